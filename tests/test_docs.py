"""Docs that cannot drift: every generated page matches the code, every setting, CLI
command, option and derived table has its entry, and the examples in them work."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from loyalist.cli.docs import GENERATED, cli_commands, expected, main
from loyalist.contract.derived import DERIVED
from loyalist.settings import Settings
from loyalist.settings.docs import documented_settings, example_file

DOCS = ROOT / "docs"


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("gen", GENERATED, ids=lambda g: g.name)
def test_generated_doc_is_up_to_date(gen):
    current = _read(gen.name)
    assert current == expected(gen, current), (
        f"docs/{gen.name} is out of date: run `make docs` (python -m loyalist.cli.docs "
        f"docs/{gen.name})")


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    nxt = re.compile(rf"^#{{1,{len(level)}}} ", re.M).search(text, start + len(heading) + 1)
    return text[start:nxt.start() if nxt else len(text)]


@pytest.mark.parametrize("name", documented_settings())
def test_every_setting_is_documented(name):
    section, key = name.split(".")
    key = "playbook" if (section, key) == ("worklist", "playbooks") else key
    body = _section(_read("settings.md"), f"## [{section}]")
    assert f"| `{key}` |" in body, f"{name} has no row under [{section}] in docs/settings.md"


_COMMANDS = [(words, cmd, ctx) for words, cmd, ctx in cli_commands()]


@pytest.mark.parametrize("words, cmd, ctx", _COMMANDS,
                         ids=[" ".join(w) for w, _c, _x in _COMMANDS])
def test_every_command_and_option_is_documented(words, cmd, ctx):
    name = " ".join(words)
    level = "##" if len(words) == 1 else "###"
    body = _section(_read("cli.md"), f"{level} `loyalist {name}`")
    for p in cmd.get_params(ctx):
        for opt in getattr(p, "opts", ()):
            if opt == "--help" or p.param_type_name == "argument":
                continue
            assert re.search(rf"`[^`]*{re.escape(opt)}\b", body), \
                f"loyalist {name} {opt} is missing from docs/cli.md"
        if p.param_type_name == "argument":
            assert f"| `{p.name} " in body, f"argument {p.name} of loyalist {name} undocumented"


def test_every_command_is_linked_from_the_readme_or_a_page():
    """A command nobody can find is not documented: each is named in the README or a
    hand-written page as well as in the reference."""
    generated = {g.name for g in GENERATED if g.block is None}
    text = (ROOT / "README.md").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in DOCS.glob("*.md") if p.name not in generated)
    missing = [" ".join(w) for w, cmd, _ in _COMMANDS
               if not hasattr(cmd, "list_commands") and f"loyalist {w[0]}" not in text]
    assert not missing, f"commands named nowhere but docs/cli.md: {missing}"


@pytest.mark.parametrize("name", list(DERIVED))
def test_every_derived_table_is_documented(name):
    body = _section(_read("derived-tables.md"), f"## `{name}`")
    for c in DERIVED[name].columns:
        assert f"| `{c.name}` |" in body


def test_the_file_with_every_default_gives_the_defaults(tmp_path):
    """The example in docs/settings.md is a valid loyalist.toml that changes nothing."""
    text = _read("settings.md")
    block = text.split("## A file with every default", 1)[1].split("```toml\n", 1)[1]
    block = block.split("```", 1)[0]
    assert block == example_file()
    (tmp_path / "loyalist.toml").write_text(block, encoding="utf-8")
    loaded = Settings.load(tmp_path)
    assert loaded.path is not None
    for section in ("service", "report", "engine", "web"):
        assert getattr(loaded, section) == getattr(Settings(), section), section
    assert loaded.worklist.settings == Settings().worklist.settings
    assert [p.name for p in loaded.worklist] == [p.name for p in Settings().worklist]
    # and each commented example is valid once uncommented
    lines = [ln[2:] if ln.startswith("# ") else ln for ln in block.splitlines()]
    (tmp_path / "loyalist.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert Settings.load(tmp_path).calendar is not None


def test_check_names_the_stale_file_and_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    assert main(["docs/cli.md", "docs/settings.md"]) == 0
    assert main(["--check", "docs/cli.md", "docs/settings.md"]) == 0
    path = tmp_path / "docs" / "cli.md"
    path.write_text(path.read_text().replace("--json", "--jsn"))
    capsys.readouterr()
    assert main(["--check", "docs/cli.md", "docs/settings.md"]) == 1
    err = capsys.readouterr().err
    assert "docs/cli.md is out of date" in err and "make docs" in err
    assert "settings.md" not in err


def test_a_block_is_replaced_between_its_markers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "worklist.md"
    head, tail = "# Worklist\n\nhand-written\n\n", "\nmore hand-written text\n"
    page.write_text(head + "<!-- BEGIN GENERATED: playbooks (python -m loyalist.cli.docs; "
                    "do not edit) -->\nold table\n<!-- END GENERATED: playbooks -->\n" + tail)
    assert main(["--check", "docs/worklist.md"]) == 1
    assert main(["docs/worklist.md"]) == 0
    text = page.read_text()
    assert text.startswith(head) and text.endswith(tail) and "old table" not in text
    assert "`save_call`" in text and main(["--check", "docs/worklist.md"]) == 0
