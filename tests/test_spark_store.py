"""A Spark store as its user meets it (issue 17): chosen by the settings, worked by the
CLI in this process and in a new one, a warehouse filled by a load, the catalog database
the settings name, and what cannot reach Spark. The same pipeline's results on both
engines are compared in tests/test_spark_parity.py; both files share the session of
``conftest.spark``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

import loyalist
from loyalist.errors import DataError


def test_an_unreachable_session_is_a_clear_error(tmp_path):
    class Conf:
        def set(self, key, value):
            pass

    class Stopped:  # what a stopped session's calls do: the JVM is gone
        conf = Conf()

        def range(self, n):
            raise ConnectionRefusedError("Connection refused")

    with pytest.raises(DataError, match="The Spark session cannot be reached: "
                       "Connection refused"):
        loyalist.connect(tmp_path / "w", spark=Stopped())


def test_settings_choose_the_spark_engine(spark, tmp_path):
    """[engine] kind = "spark" in loyalist.toml: every connect (and so every CLI command)
    opens the warehouse it names, on the running session."""
    from loyalist.store.engine.spark.store import SparkStore

    (tmp_path / "loyalist.toml").write_text(
        f'[engine]\nkind = "spark"\nwarehouse = "{(tmp_path / "lake").as_posix()}"\n')
    with loyalist.connect(tmp_path / "loyalist.duckdb") as s:
        assert isinstance(s, SparkStore) and s.path == str(tmp_path / "lake")
        assert s.table("orders").count().execute() == 0  # contract tables exist, empty
    assert not (tmp_path / "loyalist.duckdb").exists()


def test_the_cli_works_a_spark_store_named_by_its_settings(spark, tmp_path, monkeypatch,
                                                           capsys):
    """The commands a user runs in a folder whose loyalist.toml says ``[engine] kind =
    "spark"``, with no --store (and with the warehouse named): reading commands open the
    existing warehouse (they once looked for loyalist.duckdb, or took the folder for a
    DuckDB store), and restore puts a backup in place of the warehouse, not of
    ./loyalist.duckdb; the catalog database the settings name holds the tables."""
    from loyalist.cli.main import main

    wh = tmp_path / "wh"
    (tmp_path / "loyalist.toml").write_text(f'[engine]\nkind = "spark"\nwarehouse = "{wh}"\n'
                                            'database = "loyalist_cli"\n')
    (tmp_path / "o.csv").write_text("id,customer_id,ordered_at,amount\n"
                                    "A1,c1,2024-01-01,5\nA2,c2,2024-01-02,6\n")
    (tmp_path / "o2.csv").write_text("id,customer_id,ordered_at,amount\nA3,c3,2024-01-03,7\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")  # the width every in-process CLI test uses

    def flat(text):  # a long temporary path wraps wherever the width falls
        return "".join(text.split())

    assert main(["status"]) != 0
    assert flat(f"No Spark warehouse at {wh}") in flat(capsys.readouterr().err)
    assert main(["ingest", "orders", "o.csv"]) == 0
    assert main(["backup", "bk"]) == 0
    assert main(["ingest", "orders", "o2.csv", "--store", str(wh)]) == 0
    capsys.readouterr()
    assert main(["status", "--store", str(wh)]) == 0
    said = capsys.readouterr().out
    assert "orders" in said and "Catalog database loyalist_cli: 2 tables" in said
    assert spark.table("loyalist_cli.orders").count() == 3
    assert main(["restore", "bk"]) == 0
    assert flat("(2 rows)") in flat(capsys.readouterr().out)
    assert not (tmp_path / "loyalist.duckdb").exists()
    assert len(list(tmp_path.glob("wh.before-restore-*"))) == 1
    back = loyalist.connect(wh, spark=spark)
    try:
        assert sorted(back.table("orders").to_pandas()["id"]) == ["A1", "A2"]
        # the catalog's table reads the restored files (the store refreshed it)
        assert spark.table("loyalist_cli.orders").count() == 2
    finally:
        back.close()


def test_a_time_with_nanoseconds_is_kept_to_the_microsecond(spark, tmp_path):
    """pandas keeps times to the nanosecond; every engine to the microsecond. A derived
    table written from pandas once failed on Spark (``loyalist daily`` writing its run),
    the cast refusing to lose the nanoseconds: now both engines keep the same instant to
    the microsecond."""
    at = pd.Timestamp("2024-03-01 12:00:00.123456789")
    df = pd.DataFrame({"customer_id": ["c1"], "as_of": [at], "p_leave": [0.25],
                       "model_id": [1]})
    duck = loyalist.connect(tmp_path / "d.duckdb")
    sp = loyalist.connect(tmp_path / "wh", spark=spark)
    try:
        got = []
        for s in (duck, sp):
            s.write_derived("scores", df)
            got.append(pd.Timestamp(s.table("scores").to_pandas()["as_of"].iloc[0]))
    finally:
        sp.close()
        duck.close()
    assert got[0] == got[1] == pd.Timestamp("2024-03-01 12:00:00.123457")


def test_a_warehouse_filled_by_load_says_when_its_data_changed(spark, tmp_path):
    """``loyalist daily`` asks when each table's data last changed; a warehouse filled
    by ``copy_from`` (no ingest log) once answered "the store holds no data yet". A load
    counts as a change, an ingest too, and status counts the ingests."""
    duck = loyalist.connect(tmp_path / "d.duckdb")
    duck.ingest("orders", pd.DataFrame({"id": ["A1"], "customer_id": ["c1"],
                                        "ordered_at": [pd.Timestamp("2024-01-01")],
                                        "amount": [5.0]}))
    from loyalist.features.builder import available

    sp = loyalist.connect(tmp_path / "wh", spark=spark)
    other = loyalist.connect(tmp_path / "wh", spark=spark)  # as another process would
    try:
        assert sp.last_ingests() == {}
        assert not any(available(sp).values())
        before = pd.Timestamp.now("UTC").tz_localize(None)
        version = sp.data_version
        sp.copy_from(duck, ["orders"])
        assert sp.data_version != version
        loaded = sp.last_ingests()
        assert set(loaded) == {"orders"} and loaded["orders"] >= before
        # which tables hold rows is remembered while the folders stay as they were, and
        # looked up again after a write by any store on the warehouse
        assert [k for k, v in available(sp).items() if v] == ["orders"]
        assert sp._available[0] == sp.data_version
        other.ingest("requests", pd.DataFrame({
            "id": ["R1"], "customer_id": ["c1"], "opened_at": [pd.Timestamp("2024-01-03")]}))
        assert [k for k, v in available(sp).items() if v] == ["orders", "requests"]
        (tmp_path / "o.csv").write_text("id,customer_id,ordered_at,amount\n"
                                        "A2,c2,2024-01-02,6\nA3,c3,bad,7\n")
        sp.ingest("orders", tmp_path / "o.csv")
        assert sp.last_ingests()["orders"] > loaded["orders"]
        st = sp.status().set_index("table")
        assert (st.loc["orders", "ingests"], st.loc["orders", "rejected"]) == (1, 1)
        assert st.loc["orders", "rows"] == 2
        assert st.loc["orders", "last_ingest"] == sp.last_ingests()["orders"]
        assert pd.isna(st.loc["customers", "last_ingest"])
    finally:
        other.close()
        sp.close()
        duck.close()


def test_the_tables_are_in_the_catalog_database_the_settings_name(spark, tmp_path):
    """[engine] database: every table the store writes is also an external table of
    that database, read by name by any job on the session; a write (a load, an ingest,
    a derived table) is seen there at once; two warehouses cannot share a database, and a
    name that is no database name is refused before anything is made."""
    (tmp_path / "loyalist.toml").write_text(
        f'[engine]\nkind = "spark"\nwarehouse = "{(tmp_path / "lake").as_posix()}"\n'
        'database = "loyalist_parity"\n')
    orders = pd.DataFrame({"id": ["A1", "A2"], "customer_id": ["c1", "c2"],
                           "ordered_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                           "amount": [5.0, 7.0]})
    with loyalist.connect(tmp_path / "loyalist.duckdb") as sp:
        assert sp.database == "loyalist_parity" and sp.catalog_tables() == []
        sp.ingest("orders", orders)
        assert set(sp.catalog_tables()) == {"orders", "_loyalist_ingests"}
        by_name = spark.table("loyalist_parity.orders")
        assert sorted(by_name.toPandas()["id"]) == ["A1", "A2"]
        assert spark.sql("SELECT sum(amount) AS s FROM loyalist_parity.orders").first().s == 12
        (tmp_path / "o.csv").write_text("id,customer_id,ordered_at,amount\n"
                                        "A3,c3,2024-03-01,1\nA4,c4,bad,2\n")
        sp.ingest("orders", tmp_path / "o.csv")
        assert spark.table("loyalist_parity.orders").count() == 3  # refreshed at once
        assert spark.table("loyalist_parity._loyalist_ingests").count() == 2
        assert spark.table("loyalist_parity._loyalist_rejects").first()["line"] == 3
        sp.write_derived("scores", pd.DataFrame({
            "customer_id": ["c1"], "as_of": [pd.Timestamp("2024-03-01")], "model_id": [1],
            "p_leave": [0.2]}))
        assert spark.table("loyalist_parity.scores").first()["p_leave"] == 0.2
        # a column added by a load (an attribute): the catalog table gets it too
        sp.load({"customers": pd.DataFrame({"id": ["c1"], "region": ["north"]})})
        assert "region" in spark.table("loyalist_parity.customers").columns
        sp.load({"customers": pd.DataFrame({"id": ["c1"], "region": ["north"],
                                            "tier": ["gold"]})})
        assert "tier" in spark.table("loyalist_parity.customers").columns
    # a new store on the warehouse (a new session's catalog is empty) registers it all
    spark.sql("DROP TABLE loyalist_parity.scores")
    with loyalist.connect(tmp_path / "loyalist.duckdb") as again:
        assert "scores" in again.catalog_tables()
    # another warehouse naming the same database would overwrite the first's tables
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "loyalist.toml").write_text(
        f'[engine]\nkind = "spark"\nwarehouse = "{(tmp_path / "b" / "lake").as_posix()}"'
        '\ndatabase = "loyalist_parity"\n')
    with pytest.raises(DataError, match=r"catalog table loyalist_parity\.\w+ keeps its "
                       r"files in \S+/lake/\w+, not in this warehouse \(\S+/b/lake\)"):
        loyalist.connect(tmp_path / "b" / "loyalist.duckdb")
    assert spark.table("loyalist_parity.orders").count() == 3
    # a database may hold the firm's own tables: only the store's names are checked
    spark.sql(f"CREATE DATABASE lakehouse LOCATION '{(tmp_path / 'lakehouse').as_uri()}'")
    spark.createDataFrame([(1,)], "n int").write.saveAsTable("lakehouse.firm_notes")
    (tmp_path / "b" / "loyalist.toml").write_text(
        f'[engine]\nkind = "spark"\nwarehouse = "{(tmp_path / "b" / "lake").as_posix()}"'
        '\ndatabase = "lakehouse"\n')
    with loyalist.connect(tmp_path / "b" / "loyalist.duckdb") as b:
        b.load({"orders": orders})
        assert b.catalog_tables() == ["firm_notes", "orders"]
    from loyalist.settings import Settings

    bad = Settings.load(tmp_path).with_values("engine", database="x; DROP TABLE y")
    with pytest.raises(DataError, match="is not a database name"):
        loyalist.connect(tmp_path / "c", spark=spark, settings=bad)
    assert not (tmp_path / "c").exists()


def _new_process(folder, *args):
    """Python with ``args`` in a new process in ``folder``, as a user's terminal runs it."""
    return subprocess.run([sys.executable, *args], cwd=folder, capture_output=True,
                          text=True, timeout=240, env={**os.environ, "COLUMNS": "80"})


def test_a_cli_command_on_spark_prints_nothing_on_standard_error(tmp_path):
    """A user's own process, as they run it: Spark's JVM start-up chatter ("Using
    incubator modules", "Setting default log level"...) once filled standard error on
    every command. A command that works prints nothing there; its report is on stdout."""
    # the user's own Spark options (the test session's quick JVM, the conftest's) pass
    # through [engine.spark_conf] and are added to the Java options of the quiet logging
    (tmp_path / "loyalist.toml").write_text(
        '[engine]\nkind = "spark"\nwarehouse = "wh"\n[engine.spark_conf]\n'
        'spark.sql.codegen.wholeStage = false\n'
        '"spark.driver.extraJavaOptions" = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"\n')
    (tmp_path / "o.csv").write_text("id,customer_id,ordered_at,amount\n"
                                    "A1,c1,2024-01-01,5\nA2,c2,not a day,6\n")
    run = _new_process(tmp_path, "-m", "loyalist.cli.main", "ingest", "orders", "o.csv")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "1 new" in run.stdout and "1 rejected" in run.stdout


@pytest.mark.slow
def test_a_hive_metastore_keeps_the_catalog_tables_for_the_next_session(tmp_path):
    """A session started by Loyalist has an in-memory catalog unless its settings say
    otherwise. With [engine.spark_conf] naming Hive's catalog and a metastore (Derby, in
    a folder), the tables of `[engine] database` outlive the command that wrote them: a
    later Spark job in a new process, not Loyalist's, reads them by name."""
    meta = (tmp_path / "metastore").as_posix()
    quick = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    (tmp_path / "loyalist.toml").write_text(
        '[engine]\nkind = "spark"\nwarehouse = "wh"\ndatabase = "shop"\n'
        '[engine.spark_conf]\nspark.sql.catalogImplementation = "hive"\n'
        f'"spark.sql.warehouse.dir" = "{tmp_path.as_posix()}/hive"\n'
        f'"spark.hadoop.javax.jdo.option.ConnectionURL" = "jdbc:derby:;databaseName={meta};'
        'create=true"\n'
        f'"spark.driver.extraJavaOptions" = "{quick} -Dderby.system.home={meta}-home"\n')
    (tmp_path / "o.csv").write_text("id,customer_id,ordered_at,amount\n"
                                    "A1,c1,2024-01-01,5\nA2,c2,2024-02-01,6.5\n")
    run = _new_process(tmp_path, "-m", "loyalist.cli.main", "ingest", "orders", "o.csv")
    assert run.returncode == 0, run.stderr
    assert "2 new" in run.stdout
    job = (
        "from pyspark.sql import SparkSession\n"
        "s = (SparkSession.builder.master('local[1]').enableHiveSupport()\n"
        f"     .config('spark.sql.warehouse.dir', '{tmp_path.as_posix()}/hive')\n"
        "     .config('spark.hadoop.javax.jdo.option.ConnectionURL',\n"
        f"             'jdbc:derby:;databaseName={meta};create=false')\n"
        f"     .config('spark.driver.extraJavaOptions', '{quick} -Dderby.system.home={meta}-home')\n"
        "     .config('spark.ui.enabled', 'false').getOrCreate())\n"
        "print(sorted(t.name for t in s.catalog.listTables('shop')))\n"
        "print(s.sql('SELECT count(*), sum(amount) FROM shop.orders').collect()[0][:])\n")
    read = _new_process(tmp_path, "-c", job)
    assert read.returncode == 0, read.stderr[-2000:]
    tables, totals = read.stdout.strip().splitlines()[-2:]
    assert "'orders'" in tables
    assert totals == "(2, 11.5)"
