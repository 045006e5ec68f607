from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the shared real data sets (../shared/data next to the repository)
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path):
    import loyalist

    s = loyalist.connect(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture
def write(tmp_path):
    """Write a text file in the test's folder and return its path."""

    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding=encoding)
        return p

    return _write


@pytest.fixture(scope="session")
def spark():
    """One Spark session (local[2]) for the Spark tests a worker runs
    (tests/test_spark_parity.py, tests/test_spark_store.py): its JVM starts once."""
    pytest.importorskip("pyspark", reason="make test installs pyspark (dev extra)")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("loyalist-parity")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.driver.memory", "2g")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               # on 2,000 customers Spark spends more time compiling each new query's
               # Java than running it: score() took 34-38 s without whole-stage code
               # generation against 40-45 s with it. The same expressions are computed
               # either way (test_spark_store.py runs a CLI command in a new process with it on).
               .config("spark.sql.codegen.wholeStage", "false")
               # a short run of small queries: the JVM's quick compiler only (the
               # optimising one competes for the 2 cores and rarely pays back here);
               # the engine cases and score() took 118 s against 136 s with both. Its
               # code cache is then 48 MB by default: full after about 80 s of the
               # parity file, when the JVM stops compiling and runs the rest interpreted
               .config("spark.driver.extraJavaOptions",
                       "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
                       "-XX:ReservedCodeCacheSize=512m")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def pytest_terminal_summary(terminalreporter):
    """The property-based run's counts: cases tried and server errors, per field."""
    import sys

    fuzz = sys.modules.get("test_fuzz_inputs")
    if fuzz is None or not fuzz.TALLY:
        return
    cases = sum(v for (_f, kind), v in fuzz.TALLY.items() if kind == "cases")
    errors = sum(v for (_f, kind), v in fuzz.TALLY.items() if kind == "5xx")
    fields = len({f for f, _k in fuzz.TALLY})
    terminalreporter.write_line(f"hostile inputs: {cases:,} cases over {fields} fields "
                                f"(API and CLI), {errors} server errors (5xx)")
