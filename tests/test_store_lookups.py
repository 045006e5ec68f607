"""One customer's rows, fast and exact: indexes by customer (schema 7), questions
compiled once with the id bound (store/prepared.py), the story read from them, and
rows appended by code (store.append) under the ingest's rules.

Store: the synthetic business (make_business, 300 customers, 12 months, seed 5)."""

from __future__ import annotations

import re

import ibis
import pandas as pd
import pytest

import loyalist
from loyalist.errors import DataError, IngestError


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from loyalist.datasets import make_business

    business = make_business(n_customers=300, months=12, seed=5, events=False)
    s = loyalist.connect(tmp_path_factory.mktemp("lookups") / "shop.duckdb")
    for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
        if len(business.tables.get(name, [])):
            s.ingest(name, business.tables[name], strict=name != "customers")
    ids = s.table("customers").id.to_pandas()
    s.write_derived("scores", pd.DataFrame({"customer_id": ids, "as_of": pd.Timestamp(
        "2024-01-01"), "p_leave": 0.5, "model_id": 1}))
    yield s
    s.close()


def _plan(store, sql: str, **values) -> str:
    return store.raw.execute("EXPLAIN ANALYZE " + sql, values).fetchall()[0][1]


def test_every_table_read_per_customer_has_its_index(shop):
    have = {r[0] for r in shop.raw.execute(
        "SELECT table_name FROM duckdb_indexes() WHERE index_name LIKE '%_by_customer'"
    ).fetchall()}
    assert {"customers", "orders", "subscriptions", "requests", "feedback", "touches",
            "events", "_loyalist_worklist", "scores"} <= have


def test_an_older_store_gets_its_indexes(tmp_path):
    import duckdb

    from loyalist.store import migrations

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    migrations.migrate(con, str(db), target=6)
    con.execute("CREATE TABLE scores (customer_id VARCHAR, p_leave DOUBLE)")
    con.execute("INSERT INTO _loyalist_derived VALUES ('scores', now()::TIMESTAMP, 0, NULL)")
    before = con.execute("SELECT count(*) FROM duckdb_indexes()").fetchall()[0][0]
    con.close()
    with loyalist.connect(db) as s:
        names = {r[0] for r in s.raw.execute(
            "SELECT table_name FROM duckdb_indexes()").fetchall()}
    assert before == 0 and {"orders", "scores", "_loyalist_worklist"} <= names


def test_the_customer_page_reads_through_the_indexes(shop):
    """Each question of one customer is an index scan, none reads a whole table (an
    ORDER BY ... LIMIT on the timeline made DuckDB scan every event table)."""
    from loyalist.decisions.signals.story import customer_rows

    cid = shop.table("customers").id.min().execute()
    customer_rows(shop, cid, limit=500)
    asked = [q for k, q in shop.prepared_queries.items() if k[0].startswith("story")]
    assert len(asked) >= 3
    for q in asked:
        plan = _plan(shop, q.sql, customer_id=cid)
        scans = re.findall(r"Type: (\w+ Scan)", plan)
        assert scans and set(scans) == {"Index Scan"}, (q.sql, scans)


def test_a_prepared_query_binds_its_text(shop):
    from loyalist.store.prepared import prepare

    def build(s):
        c, who = s.table("customers"), ibis.param("string")
        return c.filter(c.id == who).select("id", "name"), {"customer_id": who}

    q = prepare(shop, "test name", build)
    assert prepare(shop, "test name", build) is q  # compiled once
    cid = shop.table("customers").id.min().execute()
    assert [r["id"] for r in q.rows(shop, customer_id=cid)] == [cid]
    for hostile in ("' OR '1'='1", "x'; DROP TABLE customers; --", "$customer_id", "%"):
        assert q.rows(shop, customer_id=hostile) == []
    assert shop.table("customers").count().execute() == 300
    assert "loyalist-param" not in q.sql and "$customer_id" in q.sql
    with pytest.raises(DataError, match="No value for customer_id"):
        q.rows(shop)


def test_a_prepared_query_follows_a_table_replaced_with_other_columns(tmp_path):
    from loyalist.store.prepared import prepare

    with loyalist.connect(tmp_path / "s.duckdb") as s:
        s.write_derived("reasons", pd.DataFrame({"customer_id": ["a"], "rank": [1],
                                                 "family": ["f"], "text": ["t"],
                                                 "model_id": [1]}))

        def build(st):
            t, who = st.table("reasons"), ibis.param("string")
            return t.filter(t.customer_id == who), {"customer_id": who}

        q = prepare(s, "reasons of", build)
        assert q.rows(s, customer_id="a")[0]["text"] == "t"
        s.raw.execute("CREATE OR REPLACE TABLE reasons AS SELECT 'a' AS customer_id, "
                      "'new' AS text")
        assert q.rows(s, customer_id="a") == [{"customer_id": "a", "text": "new"}]


def test_the_story_from_plain_rows_matches_the_tables(shop):
    from loyalist.decisions.signals.story import story

    o = shop.table("orders")
    cid = (o.group_by("customer_id").aggregate(n=o.count()).order_by(ibis.desc("n"))
           .limit(1).execute()["customer_id"].iloc[0])
    st = story(shop, cid, limit=500)
    mine = o.filter(o.customer_id == cid).to_pandas()
    assert (st.timeline["what"] == "order").sum() == len(mine)
    assert st.timeline["at"].is_monotonic_increasing
    assert st.profile["id"] == cid and st.score["p_leave"] == 0.5
    short = story(shop, cid, limit=3)
    assert len(short.timeline) == 3
    assert list(short.timeline["at"]) == list(st.timeline["at"].iloc[-3:])
    with pytest.raises(DataError, match="No customer"):
        story(shop, "nobody at all")


def test_lookups_know_a_customer(shop):
    from loyalist.store.lookups import is_customer, knows_customer

    cid = shop.table("customers").id.min().execute()
    assert is_customer(shop, cid) and knows_customer(shop, cid)
    assert not is_customer(shop, "nobody") and not knows_customer(shop, "nobody")


def _touch(tid: str, **extra) -> pd.DataFrame:
    row = {"id": tid, "customer_id": "C1", "at": pd.Timestamp("2024-02-01 10:00"),
           "kind": "call", "outcome": "reached", "note": "  a note  ", **extra}
    return pd.DataFrame([row])


def test_appended_rows_are_stored_as_an_ingest_stores_them(tmp_path):
    with loyalist.connect(tmp_path / "a.duckdb") as s:
        s.ingest("touches", _touch("t-ingested"))
        result = s.append("touches", _touch("t-appended"), source="logged outcome")
        t = s.table("touches", meta=True).order_by("id").to_pandas()
        log = s.ingests()
    assert result.inserted == 1 and result.rows_read == 1
    ingested, appended = t.set_index("id").loc[["t-ingested", "t-appended"]].to_dict(
        "records")
    for col in ("customer_id", "at", "kind", "outcome", "note"):
        assert ingested[col] == appended[col], col
    assert appended["note"] == "a note" and appended["_key"] == "t-appended"
    assert appended["_ingest_id"] == result.ingest_id
    assert log.iloc[0]["source"] == "logged outcome" and log.iloc[0]["inserted"] == 1


def test_an_appended_row_that_breaks_a_rule_writes_nothing(tmp_path):
    with loyalist.connect(tmp_path / "b.duckdb") as s:
        s.append("touches", _touch("t1"))
        with pytest.raises(IngestError, match="already in touches"):
            s.append("touches", _touch("t1", note="other"))
        with pytest.raises(IngestError, match="customer_id: missing required value"):
            s.append("touches", _touch("t2", customer_id=None))
        with pytest.raises(IngestError, match="no column 'colour'"):
            s.append("touches", _touch("t3", colour="red"))
        with pytest.raises(IngestError, match="an id each"):
            s.append("touches", pd.concat([_touch("t4"), _touch("t4")]))
        assert s.table("touches").count().execute() == 1
        assert len(s.ingests()) == 1
        assert s.rejects().empty
