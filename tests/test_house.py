"""House habits: the project's own warnings fail the tests, the lock pins every
dependency within what pyproject.toml allows, and `make clean` removes what the demo
leaves."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import warnings
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import ROOT


def _warn_from(module: str, message: str, category=FutureWarning) -> None:
    """Issue a warning as if from code of ``module``."""
    code = compile("warnings.warn(message, category)", f"<{module}>", "exec")
    exec(code, {"__name__": module, "warnings": warnings, "message": message,
                "category": category})


def test_a_warning_from_the_project_is_an_error():
    with pytest.raises(FutureWarning):
        _warn_from("loyalist.features.rfm", "a deprecated pandas pattern")
    with pytest.raises(DeprecationWarning):
        _warn_from("test_something", "a deprecated call in a test", DeprecationWarning)


def test_only_the_named_library_deprecations_are_ignored():
    with warnings.catch_warnings(record=True) as seen:  # pytest's filters stay in force
        _warn_from("ibis.formats.pandas", "The 'future.infer_string' option is deprecated "
                   "and will be removed", DeprecationWarning)
        _warn_from("ibis.formats.pandas", "something else", DeprecationWarning)
        _warn_from("ibis.expr.types", "The 'future.infer_string' option is deprecated",
                   DeprecationWarning)
    assert [(str(w.message)[:14]) for w in seen] == ["something else", "The 'future.in"]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_the_lock_pins_every_dependency_within_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in requirements.lock: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside {spec!r}: run make lock"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_clean_removes_what_the_demo_leaves(tmp_path):
    """The demo's leftovers, named by the code that makes them: its default exports
    folder and outputs, the settings it writes, the store with its WAL, spill folder,
    rejects folder and router."""
    import typer

    from loyalist.cli.main import app
    from loyalist.models.routing import router_path
    from loyalist.store.store import Store

    root = typer.main.get_command(app)
    made = set()
    for name, option in (("demo", "exports"), ("report", "out_path"), ("service", "out_dir"),
                         ("backtest", "out_dir")):
        default = next(p.default for p in root.commands[name].params if p.name == option)
        made.add(Path(default).parts[0])
    store = Path("loyalist.duckdb")
    made |= {store.name, store.name + ".wal", store.with_suffix(".tmp").name,
             router_path(store).name, "loyalist.toml"}
    made.add(Store.rejects_dir.fget(type("S", (), {"path": str(store)})()).name)
    for name in made:
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_text("x")
    (tmp_path / "keep.csv").write_text("a user's own file\n")
    proc = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "clean"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]
