"""Undo of one ingest (exactly its rows, and what it replaced back), backup and restore."""

from __future__ import annotations

import pandas as pd
import pytest

import loyalist
from loyalist.errors import DataError, SourceError, StoreLockedError


def _orders(rows):
    return pd.DataFrame(rows, columns=["id", "customer_id", "ordered_at", "amount", "status"])


FIRST = _orders([("O1", "A", "2024-01-01", "10", "placed"), ("O2", "B", "2024-01-02", "20",
                 "placed"), ("O3", "C", "2024-01-03", "30", "placed")])
SECOND = _orders([("O2", "B", "2024-01-02", "20", "fulfilled"), ("O4", "D", "2024-01-04", "40",
                  "placed")])


def _snapshot(s) -> pd.DataFrame:
    return s.table("orders").order_by("id").to_pandas().reset_index(drop=True)


def test_undo_removes_exactly_one_batch_and_puts_back_what_it_replaced(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        s.ingest("customers", pd.DataFrame({"id": list("ABCD"), "region": list("nsew")}))
        a = s.ingest("orders", FIRST)
        before = _snapshot(s)
        b = s.ingest("orders", SECOND)
        assert (b.inserted, b.updated) == (1, 1)
        done = s.undo_ingest(b.ingest_id, by="test")
        assert done == {"table": "orders", "deleted": 1, "restored": 1}
        pd.testing.assert_frame_equal(_snapshot(s), before)
        # the same batch cannot go twice; the first can go now
        with pytest.raises(DataError, match="undone already"):
            s.undo_ingest(b.ingest_id)
        s.undo_ingest(a.ingest_id)
        assert s.table("orders").count().execute() == 0
        # re-ingesting after an undo loads the rows again
        again = s.ingest("orders", FIRST)
        assert again.inserted == 3
        log = s.ingests().set_index("id")
        assert pd.notna(log.loc[b.ingest_id, "undone_at"])
        assert s.status().set_index("table").loc["orders", "ingests"] == 1


def test_an_earlier_batch_changed_later_is_refused_until_the_later_one_goes(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        a = s.ingest("orders", FIRST)
        b = s.ingest("orders", SECOND)
        before = _snapshot(s)
        with pytest.raises(DataError, match=f"#{b.ingest_id}") as e:
            s.undo_ingest(a.ingest_id)
        assert f"--undo {b.ingest_id}" in e.value.hint
        pd.testing.assert_frame_equal(_snapshot(s), before)  # nothing changed
        with pytest.raises(DataError, match="No ingest #999"):
            s.undo_ingest(999)


def test_undo_marks_derived_tables_stale_and_status_says_so(tmp_path, capsys):
    from loyalist.cli.main import main
    from loyalist.store.batches import stale_tables

    db = tmp_path / "s.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("orders", FIRST)
        b = s.ingest("orders", SECOND)
        s.write_derived("scores", pd.DataFrame({"customer_id": ["A"], "as_of": pd.Timestamp(
            "2024-02-01"), "p_leave": [0.2], "model_id": [1]}))
        assert stale_tables(s) == []
    assert main(["ingest", "--undo", str(b.ingest_id), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"Ingest #{b.ingest_id} undone" in out and "scores" in out
    assert main(["status", "--store", str(db)]) == 0
    assert "Stale" in capsys.readouterr().out
    with loyalist.connect(db) as s:
        assert stale_tables(s) == ["scores"]
        s.write_derived("scores", pd.DataFrame({"customer_id": ["A"], "as_of": pd.Timestamp(
            "2024-02-01"), "p_leave": [0.2], "model_id": [2]}))
        assert stale_tables(s) == []
    assert main(["ingest", "orders", "--undo", "1", "--store", str(db)]) != 0


def test_backup_restore_and_a_store_in_use(tmp_path, capsys):
    from loyalist.cli.main import main

    db, copy = tmp_path / "s.duckdb", tmp_path / "b" / "copy.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("orders", FIRST)
    assert main(["backup", str(copy), "--store", str(db)]) == 0
    assert main(["backup", str(copy), "--store", str(db)]) != 0  # never overwrites
    with loyalist.connect(db) as s:
        s.ingest("orders", SECOND)
        with pytest.raises(StoreLockedError):  # the store is held here
            from loyalist.store.batches import restore

            restore(copy, db)
    assert main(["restore", str(copy), "--store", str(db)]) == 0
    with loyalist.connect(db) as s:
        assert s.table("orders").count().execute() == 3
    kept = list(tmp_path.glob("s.before-restore-*.duckdb"))
    assert len(kept) == 1
    with loyalist.connect(kept[0]) as old:
        assert old.table("orders").count().execute() == 4
    with pytest.raises(SourceError):
        from loyalist.store.batches import restore

        restore(tmp_path / "nope.duckdb", db)


def test_backup_and_undo_through_the_running_app(tmp_path):
    from test_web_api import start_site

    site = start_site(tmp_path, n_customers=40, seed=2)
    try:
        with site.client("admin") as c:
            r = c.post("/api/ingest/orders", json={"rows": [
                {"id": "X1", "customer_id": "C0000001", "ordered_at": "2024-01-01",
                 "amount": 5}]})
            batch = r.json()["ingest_id"]
            before = site.count("orders")
            undone = c.post(f"/api/ingests/{batch}/undo").json()
            assert undone["deleted"] == 1 and site.count("orders") == before - 1
            b = c.post("/api/backup")
            assert b.status_code == 201, b.text
            name = b.json()["file"]
        with site.client("agent") as c:
            assert c.post("/api/backup").status_code == 403
        path = tmp_path / "backups" / name
        with loyalist.connect(path, read_only=True) as copy:
            assert copy.table("orders").count().execute() == site.count("orders")
            assert copy.table("customers").count().execute() == site.count("customers")
    finally:
        site.stop()
