"""Hostile text in every field that reaches the store: quotes, backslashes, NUL, ``--``,
``;``, SQL fragments, markup and very long strings, through every API field and CLI
option that takes text. Property-based (Hypothesis, fixed seed, 200 examples a field):
the answer is always a 4xx or a clear CLI message; never a 500, a traceback, or a
secret or file content leaking out.

The counts of cases tried and of server errors are printed at the end of the run.
"""

from __future__ import annotations

import secrets
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyalist

PASSWORD = "a long enough secret"
EXAMPLES = 200
#: a file the attacker's payloads try to read; its content must never come back
SECRET = Path(tempfile.gettempdir()) / "loyalist-fuzz-secret.txt"
SECRET_TEXT = "secret-" + secrets.token_hex(12)
SECRET.write_text(SECRET_TEXT)
#: cases tried and 5xx answers, per field (printed by conftest's terminal summary)
TALLY: Counter = Counter()

PAYLOADS = [
    "'", "''", '"', "\\", "\\'", "\x00", "a\x00b", "--", ";", "'; DROP TABLE customers; --",
    "%Y' || (SELECT password_hash FROM _loyalist_users) || '",
    f"' || (SELECT content FROM read_text('{SECRET}')) || '",
    f"%Y' || (SELECT content FROM read_text('{SECRET}')) || '",
    "x' OR '1'='1", "%", "_", "%%", "[red]x[/]", "<script>alert(1)</script>", "../../etc/passwd",
    "C0000001/../x", "?#&=", "\u202e", "😀", " ", "", "\n", "\r\n", "\t",
]
HOSTILE = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(alphabet=st.sampled_from(list("'\"\\;-%_/?#&=()*|<>[]{} \x00\nabcXYZ019")),
            max_size=40),
    st.text(max_size=60),
    st.builds(lambda s, n: s * n, st.sampled_from(["'", "a", "\\", "%Y"]),
              st.integers(1000, 5000)),
)
#: the same, short enough to travel in a URL (a client refuses URLs past 64 kB)
IN_URL = HOSTILE.map(lambda s: s[:2000])
RUN = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small business served by uvicorn on loopback, and an admin's client."""
    from test_web_api import start_site

    folder = tmp_path_factory.mktemp("fuzz")
    site = start_site(folder, n_customers=60, seed=2)
    with site.client("admin") as client:
        yield site.store, client, folder
    site.stop()


def _check(field: str, r) -> None:
    TALLY[(field, "cases")] += 1
    if r.status_code >= 500:
        TALLY[(field, "5xx")] += 1
    assert r.status_code < 500, (field, r.status_code, r.text[:500])
    text = r.text
    assert "Traceback" not in text and "$argon2" not in text and SECRET_TEXT not in text
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        assert body["ok"] is False and body["status"] == r.status_code and body["error"]


# -- the API --------------------------------------------------------------------------------

@pytest.mark.slow  # 125 s of make test (stop 25); the other ingest fields stay fast
@RUN
@given(value=HOSTILE)
def test_api_ingest_row_values(world, value):
    _s, c, _ = world
    r = c.post("/api/ingest/orders", json={"rows": [
        {"customer_id": value, "ordered_at": value, "amount": value, "status": value}]})
    _check("ingest row values", r)


@pytest.mark.slow  # 26 hostile column names through the API, 26 s in make test
@RUN
@given(key=HOSTILE)
def test_api_ingest_column_names(world, key):
    _s, c, _ = world
    r = c.post("/api/ingest/customers", json={"rows": [{"id": "Z1", key: "v"}]})
    _check("ingest column names", r)


@RUN
@given(fmt=HOSTILE)
def test_api_ingest_date_format(world, fmt):
    _s, c, _ = world
    r = c.post("/api/ingest/orders", json={
        "rows": [{"customer_id": "C0000001", "ordered_at": "01/02/2023"}], "date_format": fmt})
    _check("ingest date_format", r)


@RUN
@given(mapping=HOSTILE)
def test_api_ingest_mapping(world, mapping):
    _s, c, _ = world
    r = c.post("/api/ingest/orders", json={
        "rows": [{"customer_id": "C0000001", "ordered_at": "2023-01-02"}], "mapping": mapping})
    _check("ingest mapping", r)


@RUN
@given(name=HOSTILE, delimiter=HOSTILE, content=st.binary(max_size=300))
def test_api_ingest_file(world, name, delimiter, content):
    _s, c, _ = world
    files = {"file": (name or "x.csv", b"customer_id,ordered_at\n" + content)}
    r = c.post("/api/ingest/orders/file", files=files, data={"delimiter": delimiter[:3]})
    _check("ingest file name, delimiter, content", r)


@RUN
@given(customer_id=HOSTILE, outcome=HOSTILE, note=HOSTILE, kind=HOSTILE, at=HOSTILE,
       item_id=HOSTILE)
def test_api_touches(world, customer_id, outcome, note, kind, at, item_id):
    _s, c, _ = world
    r = c.post("/api/touches", json={"customer_id": customer_id, "outcome": outcome,
                                     "note": note, "kind": kind, "at": at, "item_id": item_id})
    _check("touches", r)


@pytest.mark.slow  # 20-60 s each: with the long checks (make test-slow, CI)
@RUN
@given(q=IN_URL, cid=IN_URL)
def test_api_search_and_customer_pages(world, q, cid):
    from urllib.parse import quote

    _s, c, _ = world
    _check("customers q", c.get("/customers", params={"q": q}))
    _check("customer id (page)", c.get("/customers/" + quote(cid, safe="")))
    _check("customer id (privacy export)", c.get("/api/privacy/" + quote(cid, safe="")))


@RUN
@given(owner=IN_URL, playbook=IN_URL, segment=IN_URL, due=IN_URL, table=IN_URL)
def test_api_worklist_and_rejects_filters(world, owner, playbook, segment, due, table):
    _s, c, _ = world
    _check("worklist filters", c.get("/api/worklist", params={
        "owner": owner, "playbook": playbook, "segment": segment, "due_before": due}))
    _check("rejects table", c.get("/api/rejects", params={"table": table}))


@RUN
@given(name=IN_URL, password=HOSTILE)
def test_api_users_and_unlock(world, name, password):
    _s, c, _ = world
    _check("users add", c.post("/api/users", json={"name": name, "password": password}))
    from urllib.parse import quote

    _check("unlock", c.post(f"/api/users/{quote(name, safe='')}/unlock"))


@RUN
@given(text=HOSTILE)
def test_api_route(world, text):
    _s, c, _ = world
    _check("route texts", c.post("/api/route", json={"texts": [text]}))


@pytest.mark.slow  # 20-60 s each: with the long checks (make test-slow, CI)
@RUN
@given(name=HOSTILE, password=HOSTILE)
def test_sign_in_form(world, name, password):
    _s, c, _ = world
    page = c.get("/login")
    r = c.post("/login", data={"name": name, "password": password,
                               "csrf": page.cookies.get("loyalist_login", "") or "x"})
    _check("sign-in form", r)


# -- the command line -----------------------------------------------------------------------

def _cli(world, capsys, field, argv):
    from loyalist.cli.main import main

    code = main(argv)
    captured = capsys.readouterr()
    out = captured.out + captured.err
    TALLY[(field, "cases")] += 1
    assert isinstance(code, int) and "Traceback" not in out and "$argon2" not in out, out[:500]
    assert SECRET_TEXT not in out
    if code not in (0,):
        assert "Error" in out or "Usage" in out or "Invalid" in out, out[:500]


@pytest.fixture(scope="module")
def export(world):
    """An export to ingest, and a second store for the commands (the first is held by
    the app) holding a few customers."""
    _s, _c, folder = world
    path = folder / "orders.csv"
    path.write_text("customer_id,ordered_at,amount\nC0000001,01/02/2023,3\n")
    with loyalist.connect(folder / "cli.duckdb") as s:
        s.ingest("customers", pd.DataFrame({"id": ["C0000001", "C0000002"]}))
    return path


@pytest.mark.slow  # 20-60 s each: with the long checks (make test-slow, CI)
@RUN
@given(fmt=HOSTILE, mapping=HOSTILE, delimiter=HOSTILE, encoding=HOSTILE)
def test_cli_ingest_options(world, export, capsys, fmt, mapping, delimiter, encoding):
    store, _c, folder = world
    argv = ["ingest", "orders", str(export), "--store", str(folder / "cli.duckdb")]
    for flag, value in (("--date-format", fmt), ("--map", mapping), ("--delimiter", delimiter),
                        ("--encoding", encoding)):
        if value and not value.startswith("-") and "\x00" not in value:
            argv += [flag, value]
    _cli(world, capsys, "cli ingest options", argv)


@RUN
@given(customer_id=HOSTILE, note=HOSTILE, item=HOSTILE, at=HOSTILE, by=HOSTILE)
def test_cli_log_options(world, export, capsys, customer_id, note, item, at, by):
    _s, _c, folder = world
    db = folder / "cli.duckdb"
    argv = ["log", "--store", str(db), "--outcome", "reached"]
    for flag, value in (("--note", note), ("--item", item), ("--at", at), ("--by", by)):
        if value and not value.startswith("-") and "\x00" not in value:
            argv += [flag, value]
    if customer_id and not customer_id.startswith("-") and "\x00" not in customer_id:
        argv.append(customer_id)
    _cli(world, capsys, "cli log options", argv)


@pytest.mark.slow  # 20-60 s each: with the long checks (make test-slow, CI)
@RUN
@given(customer_id=HOSTILE, table=HOSTILE)
def test_cli_customer_and_rejects(world, export, capsys, customer_id, table):
    _s, _c, folder = world
    db = str(folder / "cli.duckdb")
    if customer_id and not customer_id.startswith("-") and "\x00" not in customer_id:
        _cli(world, capsys, "cli customer export", ["customer", "export", customer_id,
                                                     "--store", db])
    if table and not table.startswith("-") and "\x00" not in table:
        _cli(world, capsys, "cli rejects --table", ["rejects", "--table", table, "--store", db])


def test_the_store_is_intact_after_the_run(world):
    store, _c, _ = world
    users = store.raw.execute("SELECT count(*) FROM _loyalist_users").fetchall()[0][0]
    assert users >= 1 and store.table("customers").count().execute() >= 60
    assert not [k for k, v in TALLY.items() if k[1] == "5xx" and v], TALLY
    short = {f: n for (f, kind), n in TALLY.items() if kind == "cases" and n < EXAMPLES // 2}
    assert not short, short
