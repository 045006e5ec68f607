"""The terminal as a user meets it in an 80-column window: tables that never cut a value
the user must type (an id, a playbook name, a date), help that keeps ``[section]``
names, dates read one way, read-only commands that never create a store, and a
start-up that imports nothing heavy.

The sweep of every command (``test_every_command_at_80_columns``) runs on a synthetic
business of 120 customers over 12 months (``make_business(n_customers=120, months=12,
seed=5, survey=True)``); it is marked slow (several minutes on a shared machine).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loyalist.cli import tables
from loyalist.cli.main import main

#: what Rich puts where it cuts a value short
CUT = "…"
ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "80", "NO_COLOR": "1"}


def run(*args, cwd=None, stdin=None):
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=ENV, input=stdin)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


# -- start-up -------------------------------------------------------------------------------
HEAVY = ("pandas", "numpy", "ibis", "duckdb", "sklearn", "scipy", "lightgbm", "pyarrow",
         "rich.console", "loyalist.store", "loyalist.settings")


def test_help_imports_nothing_heavy():
    """Building the whole app (every command registered, as --help needs) imports none
    of the libraries the commands use when they run; --version not even Typer."""
    code = ("import sys, typer; from loyalist.cli.main import main, app; "
            "typer.main.get_command(app); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    code = ("import sys, contextlib, io; from loyalist.cli.main import main; "
            "f = io.StringIO(); r = contextlib.redirect_stdout(f); r.__enter__(); "
            "main(['--version']); r.__exit__(None, None, None); "
            "print(f.getvalue().strip(), 'typer' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split()[-1] == "False", proc.stdout + proc.stderr


# -- help -----------------------------------------------------------------------------------
def test_help_keeps_section_names_and_names_the_env_var_once():
    proc = run("report", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "[report] target_annual_loss" in text
    assert text.count("LOYALIST_STORE") == 1
    assert "<bool>" not in text
    assert max(map(len, proc.stdout.splitlines())) <= 80
    proc = run("route", "--help")
    assert "[service] team_for_category" in " ".join(proc.stdout.split())


def test_errors_keep_section_names(tmp_path):
    (tmp_path / "loyalist.toml").write_text("[report]\ntarget_annual_loss = 7\n")
    proc = run("config", "--store", tmp_path / "s.duckdb")
    assert proc.returncode != 0
    assert "[report]" in proc.stderr or "report.target_annual_loss" in proc.stderr, proc.stderr
    assert "Error:  " not in proc.stderr  # nothing swallowed as markup


# -- dates ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args, option", [
    (("report", "--as-of", "foo"), "--as-of"),
    (("service", "--since", "foo"), "--since"),
    (("impact", "--as-of", "foo"), "--as-of"),
    (("backtest", "--eval-date", "foo"), "--eval-date"),
    (("worklist", "--as-of", "2024-13-01"), "--as-of"),
    (("log", "c1", "--outcome", "reached", "--at", "yesterday"), "--at"),
    (("value", "--calibration-end", "foo"), "--calibration-end"),
    (("score", "--as-of", "03/04/2024"), "--as-of"),
    (("score", "--as-of", "31/12/2024"), "--as-of"),
    (("relationship", "--as-of", "2024-02-30"), "--as-of"),
])
def test_a_date_that_is_not_iso_is_a_clear_error(tmp_path, args, option, monkeypatch,
                                                  capsys):
    """Day/month order is never guessed: 03/04/2024 and 31/12/2024 are refused alike,
    before the store is even opened (so the check holds on any store)."""
    code, text = _cli([*args, "--store", tmp_path / "none.duckdb"], monkeypatch, capsys)
    assert code == 1, text
    assert "Traceback" not in text
    assert f"Error: Cannot read {option} {args[-1]!r} as a date" in text
    assert "Next step: Give a date as YYYY-MM-DD" in text
    assert not (tmp_path / "none.duckdb").exists()


def test_moment_reads_iso_only():
    from loyalist.contract.moments import moment
    from loyalist.errors import DataError

    assert str(moment("2024-03-04")) == "2024-03-04 00:00:00"
    assert str(moment("2024-03-04 14:05")) == "2024-03-04 14:05:00"
    assert str(moment("2024-03-04T14:05:00+02:00")) == "2024-03-04 12:05:00"
    for bad in ("03/04/2024", "04/03/2024", "31/12/2024", "2024/03/04", "March 4, 2024",
                "2024-13-01", "yesterday", ""):
        with pytest.raises(DataError):
            moment(bad)


# -- read-only commands ----------------------------------------------------------------------
READERS = [("status",), ("rejects",), ("models",), ("explain", "c1"), ("worklist", "--show"),
           ("impact",), ("score",), ("service",), ("report",), ("backtest",), ("value",),
           ("user", "list"), ("user", "signins"), ("customer", "export", "c1"),
           ("log", "c1", "--outcome", "reached"), ("backup", "copy.duckdb")]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_commands_never_create_a_store(tmp_path, args, monkeypatch, capsys):
    where = tmp_path / "nonexistent" / "dir" / "x.duckdb"
    monkeypatch.chdir(tmp_path)
    code, text = _cli([*args, "--store", where], monkeypatch, capsys)
    assert code == 2, text
    # (a path longer than the terminal is folded onto the next line)
    assert re.sub(r"\s", "", f"Error: No store at {where} (the folder {where.parent} does not "
                  "exist).") in re.sub(r"\s", "", text)
    assert "Next step:" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_status_in_an_empty_folder_creates_nothing(tmp_path):
    proc = run("status", cwd=tmp_path)
    assert proc.returncode == 2
    assert "No store at loyalist.duckdb." in proc.stderr
    assert list(tmp_path.iterdir()) == []


# -- the table helper -------------------------------------------------------------------------
def test_tables_keep_what_a_user_types_whole_at_80_columns():
    from rich.console import Console

    cols = [tables.Col("customer"), tables.Col("playbook"), tables.Col("due"),
            tables.Col("owner", drop=1), tables.Col("source", wrap=True, drop=2),
            tables.Col("why", wrap=True, min_width=20)]
    rows = [(f"CUST-{i:012d}", "resolve_repeated_contact", "2024-03-31", "Alexandra Montgomery",
             f"/some/very/long/path/to/an/export/file_number_{i}.csv",
             "two contacts about billing since 14 Aug 2023, still unresolved " * 2)
            for i in range(3)]
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    t, dropped = tables.table(cols, rows, width=80)
    console.print(t)
    text = console.export_text()
    assert CUT not in text
    assert max(map(len, text.splitlines())) <= 80
    for r in rows:
        for value in r[:3]:
            assert value in text
    assert dropped == ["owner", "source"]
    # wide enough: nothing is dropped
    assert tables.table(cols, rows, width=200)[1] == []


def test_plural():
    assert tables.plural(1, "customer") == "1 customer"
    assert tables.plural(2, "customer") == "2 customers"
    assert tables.plural(1200, "entry", "entries") == "1,200 entries"


def test_library_warnings_become_one_line(capsys):
    import warnings

    from loyalist.cli.quiet import report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn_explicit("X does not have valid feature names", UserWarning,
                               "/x/site-packages/sklearn/base.py", 1)
        warnings.warn_explicit("X does not have valid feature names", UserWarning,
                               "/x/site-packages/sklearn/base.py", 2)
        warnings.warn_explicit("Loyalist's own", UserWarning,
                               "/x/src/loyalist/models/x.py", 3)
    tables.err._console = None
    report(caught, tables.err)
    err = capsys.readouterr().err
    assert "UserWarning" not in err
    assert "2 warnings from scikit-learn not shown" in err
    assert "Warning: Loyalist's own" in err
    assert len(err.strip().splitlines()) == 2


# -- every command at 80 columns -----------------------------------------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A small synthetic business, ingested: every table, the relationship survey too."""
    import loyalist
    from loyalist.datasets import make_business

    tmp = tmp_path_factory.mktemp("shop")
    business = make_business(n_customers=120, months=12, seed=5, survey=True)
    files = business.write(tmp / "exports", format="csv")
    db = tmp / "shop.duckdb"
    with loyalist.connect(db) as s:
        for table in ("customers", "staff", "orders", "subscriptions", "requests",
                      "feedback", "events", "survey_answers"):
            if table in files:
                s.ingest(table, files[table], strict=table != "customers")
    return db


def _cli(args, monkeypatch, capsys, stdin: str | None = None) -> tuple[int, str]:
    import io

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    tables.out._console = tables.err._console = None  # made again at 80 columns
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main([str(a) for a in args])
    got = capsys.readouterr()
    return code, got.out + got.err


def _commands_run() -> dict[str, list[list[str]]]:
    """Invocations of every command, in an order where each finds what it needs."""
    return {
        "value": [["value"]],
        "service": [["service", "--out", "{tmp}/service"]],
        "score": [["score", "--top", "12"]],
        "worklist": [["worklist", "--top", "12"], ["worklist", "--show", "--owner", "Nobody"]],
        "relationship": [["relationship", "--boot", "50"]],
        "report": [["report", "--out", "{tmp}/report.html"]],
        "daily": [["daily", "--day", "2024-01-02", "--out", "{tmp}/daily"]],
        "explain": [["explain", "{customer}"]],
        "log": [["log", "{customer}", "--outcome", "reached", "--at", "2024-01-02 10:00"]],
        "impact": [["impact"]],
        "backtest": [["backtest", "--train-dates", "2", "--out", "{tmp}/backtest"]],
        "models": [["models"]],
        "status": [["status"]],
        "rejects": [["rejects"]],
        "config": [["config"]],
        "playbooks": [["playbooks"]],
        "route": [["route", "--train"], ["route", "my card was charged twice"]],
        "user add": [["user", "add", "ann", "--role", "admin", "--password-stdin"]],
        "user list": [["user", "list"]],
        "user link": [["user", "link", "ann", "--person", "S001"]],
        "user signins": [["user", "signins"]],
        "user unlock": [["user", "unlock", "ann"]],
        "token create": [["token", "create", "ann", "--label", "crm"]],
        "customer export": [["customer", "export", "{customer}", "--out", "{tmp}/c.json"]],
        "backup": [["backup", "{tmp}/copy.duckdb"]],
        "user disable": [["user", "disable", "ann"]],
        "customer erase": [["customer", "erase", "{customer}", "--yes"]],
        "restore": [["restore", "{tmp}/copy.duckdb"]],
        "ingest": [["ingest", "orders", "{tmp}/more_orders.csv"]],
    }


@pytest.mark.slow
def test_every_command_at_80_columns(shop, tmp_path, monkeypatch, capsys):
    """Each command on the small shop in an 80-column terminal: no traceback, no value
    cut short by Rich's ellipsis, no line over 80 columns in its tables; the ids,
    playbook names and dates a user types next appear whole. A command of the app
    without an entry here is at least run with --help."""
    import loyalist
    from loyalist.cli.docs import cli_commands
    from loyalist.decisions.worklist import open_items
    from loyalist.settings import Settings

    (tmp_path / "more_orders.csv").write_text("customer_id,ordered_at,amount\n"
                                              "NEW-CUSTOMER-0001,2023-12-30,12.5\n")
    plan = _commands_run()
    names = {" ".join(words) for words, cmd, _ in cli_commands() if not hasattr(cmd, "list_commands")}
    customer = None
    outputs = {}
    for name, invocations in plan.items():
        for args in invocations:
            if customer is None and "{customer}" in " ".join(args):
                with loyalist.connect(shop, read_only=True) as s:
                    items = open_items(s)
                customer = str(items["customer_id"].iloc[0])
            args = [a.format(tmp=tmp_path, customer=customer) for a in args]
            code, text = _cli([*args, "--store", shop], monkeypatch, capsys,
                              stdin="a long enough password\n")
            assert code == 0, (args, text)
            assert "Traceback" not in text and CUT not in text, (args, text)
            outputs.setdefault(name, []).append(text)
            if name == "worklist" and "--show" not in args:
                with loyalist.connect(shop, read_only=True) as s:
                    shown = open_items(s).head(12)
                for cid in shown["customer_id"]:
                    assert cid in text, (cid, text)
    assert "No open items for owner Nobody" in outputs["worklist"][1]
    for pb in Settings.load(shop).worklist.playbooks:
        assert pb.name in outputs["playbooks"][0], pb.name
    for other in sorted(names - set(plan)):
        code, text = _cli([*other.split(), "--help"], monkeypatch, capsys)
        assert code == 0 and CUT not in text, (other, text)
        assert max(map(len, text.splitlines())) <= 80, (other, text)
    json.loads(Path(tmp_path / "c.json").read_text())  # the export is whole JSON
