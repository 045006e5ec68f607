"""The worklist's bookkeeping is DuckDB tables: on another engine it says so before any
work (it used to fail deep inside with Ibis's TableNotFound)."""

from __future__ import annotations

import pytest

from loyalist.decisions.worklist import build_worklist
from loyalist.errors import NotOnEngineError


class _SparkLike:
    """Only what the engine check reads: anything else touched would fail the test."""

    engine = "spark"


def test_the_worklist_on_spark_names_what_is_missing():
    with pytest.raises(NotOnEngineError, match="worklist's bookkeeping") as e:
        build_worklist(_SparkLike())
    assert "Spark" in str(e.value) and "DuckDB" in (e.value.hint or "")
