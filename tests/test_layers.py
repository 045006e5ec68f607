"""Data flows one way: no module imports anything from a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

import loyalist

PKG = Path(loyalist.__file__).parent
#: lowest first; a module may import its own layer and the ones before it
LAYERS = ["errors", "contract", "settings", "store", "datasets", "features", "models",
          "relationship", "listening", "council", "decisions", "team", "daily", "web", "cli"]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "loyalist" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def _imported(path: Path) -> list[str]:
    """The absolute module names ``path`` imports."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_no_module_imports_a_higher_layer():
    offences = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "__init__.py":
            continue
        own = LAYERS.index(rel.parts[0].removesuffix(".py"))
        for name in _imported(path):
            layer = _layer(name)
            if layer is not None and layer > own:
                offences.append(f"{rel} imports {name}")
    assert not offences, offences


def test_no_view_calls_another():
    """A page's module uses the layers below it (and web's own helpers), never another
    page's module: work two pages share belongs lower down (decisions/ or store/)."""
    views = PKG / "web" / "views"
    names = {p.stem for p in views.glob("*.py")} - {"__init__"}
    offences = []
    for path in views.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                imported = [module.rsplit(".", 1)[-1]] if module.startswith(
                    "loyalist.web.views.") else ([a.name for a in node.names]
                                                 if module == "loyalist.web.views" else [])
                offences += [f"{path.name} imports view {m}" for m in imported
                             if m in names and m != path.stem]
    assert not offences, offences


def test_only_the_store_reaches_into_an_engine():
    """What only one engine does lives in its adapter (``loyalist.store.engine.duckdb``,
    ``...spark``); every other layer goes through the store's own API, so no feature,
    model or page branches on the engine."""
    offences = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "store":
            continue
        offences += [f"{rel} imports {n}" for n in _imported(path)
                     if n.startswith(("loyalist.store.engine.duckdb",
                                      "loyalist.store.engine.spark"))]
    assert not offences, offences
