"""Every hint names real commands and options.

A hint (the ``hint=`` of an error, the "Next step" a user reads) that names a
``loyalist`` command, or an ``--option``, must name one that exists in the Typer app:
a renamed option otherwise leaves the user with advice that fails. The hints are read
from the source (string constants, f-strings and concatenations; the parts computed at
run time do not count), so a hint on a path no test reaches is checked too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import loyalist
from conftest import ROOT
from loyalist.cli.docs import cli_commands

PKG = Path(loyalist.__file__).parent
HOLE = "\x00"  # where an f-string or a call fills in text at run time


def _module_strings(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level names bound to string constants (hints built from them)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            texts = _texts(node.value, {})
            if texts and all(HOLE not in t for t in texts):
                out[node.targets[0].id] = texts
    return out


def _texts(node, names) -> list[str]:
    """The texts an expression can give, with HOLE where a value is filled in."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else [HOLE]
    if isinstance(node, ast.JoinedStr):
        outs = [""]
        for v in node.values:
            parts = _texts(v, names) if isinstance(v, ast.Constant) else [HOLE]
            outs = [o + p for o in outs for p in parts]
        return outs
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _texts(node.left, names) for b in _texts(node.right, names)]
    if isinstance(node, ast.IfExp):
        return _texts(node.body, names) + _texts(node.orelse, names)
    if isinstance(node, ast.BoolOp):
        return [t for v in node.values for t in _texts(v, names)]
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    return [HOLE]


def hints() -> list[tuple[str, str]]:
    """(where, text) of every hint in the package."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _module_strings(tree)
        # helpers of the module that take the hint as a positional parameter
        takes = {f.name: [a.arg for a in f.args.args].index("hint") for f in ast.walk(tree)
                 if isinstance(f, ast.FunctionDef) and "hint" in [a.arg for a in f.args.args]}
        rel = path.relative_to(PKG.parent)
        for node in ast.walk(tree):
            values = []
            if isinstance(node, ast.Call):
                values = [k.value for k in node.keywords if k.arg == "hint"]
                at = takes.get(getattr(node.func, "id", None))
                if at is not None and len(node.args) > at:
                    values.append(node.args[at])
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "hint" for t in targets) \
                        and node.value is not None:
                    values = [node.value]
            for v in values:
                for text in _texts(v, names):
                    if text.replace(HOLE, "").strip():
                        found.append((f"{rel}:{v.lineno}", text))
    return found


def _app():
    """{command words: set of its options} for every command of the app."""
    commands = {}
    for words, cmd, ctx in cli_commands():
        opts = set()
        for p in cmd.get_params(ctx):
            opts.update(getattr(p, "opts", ()))
            opts.update(getattr(p, "secondary_opts", ()))
        commands[words] = (opts, hasattr(cmd, "list_commands"))
    return commands


APP = _app()
#: --version is answered by loyalist.cli.main before the Typer app is loaded
ALL_OPTIONS = set().union(*(o for o, _g in APP.values())) | {"--version"}
#: a command line inside a hint runs to the end of the clause
_CLAUSE_END = re.compile(r"[`)(;,]|\.(\s|$)|\s(or|and|then|to|with|first)\s|$")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")


def problems(text: str) -> list[str]:
    """What is wrong with the commands and options named in ``text``."""
    out = []
    checked_spans = []
    for m in re.finditer(r"(?<![\w.-])loyalist ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", text):
        first, second = m.group(1), m.group(2)
        if (first,) not in APP:
            out.append(f"no command 'loyalist {first}'")
            continue
        words = (first,)
        opts, group = APP[words]
        if group and second is not None:
            if (first, second) not in APP:
                out.append(f"no command 'loyalist {first} {second}'")
                continue
            words = (first, second)
            opts, _ = APP[words]
        start = m.end() if group else m.end(1)
        end = start + _CLAUSE_END.search(text, start).start() - start
        checked_spans.append((m.start(), end))
        for o in _OPTION.finditer(text, start, end):
            if o.group(1) not in opts:
                out.append(f"'loyalist {' '.join(words)}' has no option {o.group(1)}")
    for o in _OPTION.finditer(text):
        inside = any(a <= o.start() < b for a, b in checked_spans)
        if not inside and o.group(1).startswith("--") and o.group(1) not in ALL_OPTIONS:
            out.append(f"no command has an option {o.group(1)}")
    for page in re.findall(r"docs/[\w-]+\.md", text):
        if not (ROOT / page).is_file():
            out.append(f"no page {page}")
    return out


HINTS = hints()


def test_hints_are_found():
    """The reader sees the hints (a broken reader would pass everything)."""
    assert len(HINTS) > 100
    texts = " ".join(t for _w, t in HINTS)
    assert "loyalist route --train" in texts and "loyalist user list" in texts


@pytest.mark.parametrize("where, text", [h for h in HINTS if "loyalist " in h[1]
                                         or "docs/" in h[1] or _OPTION.search(h[1])],
                         ids=lambda v: v if ":" in str(v)[:60] else "")
def test_hint_names_real_commands_and_options(where, text):
    found = problems(text)
    assert not found, f"{where}: hint {text.replace(HOLE, '…')!r}: " + "; ".join(found)


@pytest.mark.parametrize("text, expected", [
    ("Run loyalist score first.", []),
    ("see `loyalist user list`.", []),
    ("run: loyalist route --train --store x", []),
    ("loyalist worklist --customer ID", ["'loyalist worklist' has no option --customer"]),
    ("loyalist scor", ["no command 'loyalist scor'"]),
    ("loyalist user remove NAME", ["no command 'loyalist user remove'"]),
    ("give --date-format", []),
    ("give --date-fmt", ["no command has an option --date-fmt"]),
    ("run loyalist score, then --as-of", []),
    ("loyalist score, loyalist value or loyalist route --train fit them", []),
    ("loyalist value --train", ["'loyalist value' has no option --train"]),
    ("see docs/settings.md", []),
    ("see docs/setings.md", ["no page docs/setings.md"]),
])
def test_the_checker_itself(text, expected):
    assert problems(text) == expected


def test_every_message_naming_a_command_names_a_real_one():
    """Beyond hints: what the CLI prints ("Next: loyalist explain ..."), notes and
    docstrings name real commands and options too."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant | ast.JoinedStr):
                for text in _texts(node, {}):
                    if "loyalist " in text:
                        bad += [f"{path.relative_to(PKG.parent)}:{node.lineno}: {p}"
                                for p in problems(text)]
    assert not bad, "\n".join(bad)
