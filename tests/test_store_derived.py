"""Derived tables: replaced whole (model outputs) or appended to (histories)."""

import duckdb
import pandas as pd
import pytest

import loyalist
from loyalist.errors import DataError


def _scores(model_id, p):
    return pd.DataFrame({"customer_id": ["a", "b"], "as_of": pd.Timestamp("2024-01-01"),
                         "p_leave": p, "model_id": model_id})


def test_append_keeps_every_run_and_registers_the_table(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        s.append_derived("score_history", _scores(1, [0.1, 0.2]))
        s.append_derived("score_history", _scores(2, [0.3, 0.4]))
        h = s.table("score_history").to_pandas().sort_values(["model_id", "customer_id"])
        assert h["model_id"].tolist() == [1, 1, 2, 2]
        assert h["p_leave"].tolist() == [0.1, 0.2, 0.3, 0.4]
        assert "score_history" in s.tables()


def test_a_failed_append_changes_nothing(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        s.append_derived("score_history", _scores(1, [0.1, 0.2]))
        bad = _scores(2, [0.3, 0.4]).assign(p_leave=["high", "low"])
        with pytest.raises(duckdb.ConversionException):
            s.append_derived("score_history", bad)
        assert s.table("score_history").count().execute() == 2


def test_contract_tables_cannot_be_written_as_derived(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s, pytest.raises(DataError):
        s.append_derived("orders", _scores(1, [0.1, 0.2]))
