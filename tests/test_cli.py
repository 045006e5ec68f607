"""The command line as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

import loyalist


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env={
                              "PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def test_help_and_version():
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("ingest", "status", "rejects", "demo"):
        assert command in proc.stdout
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"loyalist {loyalist.__version__}"


def test_ingest_prints_counts_and_where_rejects_are(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("CustID,InvoiceDate,Total\na,2021-01-01,5\nb,01/02/2021,3\n,2021-01-03,1\n")
    db = tmp_path / "s.duckdb"
    proc = run("ingest", "orders", src, "--map",
               "customer_id=CustID,ordered_at=InvoiceDate,amount=Total", "--store", db)
    assert proc.returncode == 0, proc.stderr
    assert "3 rows read" in proc.stdout and "1 new" in proc.stdout
    assert "2 rejected" in proc.stdout
    assert "s-rejects/ingest-1-orders.csv" in proc.stdout.replace("\n", "")
    proc = run("status", "--store", db)
    assert proc.returncode == 0 and "orders" in proc.stdout
    proc = run("rejects", "--store", db)
    assert "ambiguous_date" in proc.stdout and "01/02/2021" in proc.stdout
    assert "missing required value" in proc.stdout


@pytest.mark.parametrize("args, code, message", [
    (("ingest", "orderz", "x.csv"), 2, "Unknown table 'orderz'"),
    (("ingest", "orders", "missing.csv"), 2, "File not found: 'missing.csv'"),
    (("ingest", "orders", "data.csv", "--map", "customer_id=Nope"), 2, "no column 'Nope'"),
    (("ingest", "orders", "data.csv", "--map", "oops"), 2, "Cannot read the mapping item"),
    (("ingest", "orders", "semi.csv", "--delimiter", ","), 2, "separated by ';'"),
    (("ingest", "orders", "dates.csv"), 3, "nothing was written"),
])
def test_user_mistakes_get_one_clear_message(tmp_path, args, code, message):
    (tmp_path / "data.csv").write_text("customer_id,ordered_at\na,2021-01-01\n")
    (tmp_path / "semi.csv").write_text("cust;when\na;2021-01-01\n")
    (tmp_path / "dates.csv").write_text("customer_id,ordered_at\na,someday\nb,never\n")
    proc = run(*args, "--store", tmp_path / "s.duckdb", cwd=tmp_path)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Next step:" in proc.stderr


def test_locked_store_is_a_clear_message(tmp_path):
    db = tmp_path / "s.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time, loyalist; "
                               f"s = loyalist.connect({str(db)!r}); print('open', flush=True); "
                               "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        proc = run("status", "--store", db)
        assert proc.returncode == 4
        assert "in use by another process" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
