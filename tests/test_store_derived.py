"""Derived tables: replaced whole (model outputs) or appended to (histories)."""

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
        with pytest.raises(DataError, match="score_history") as e:
            s.append_derived("score_history", bad)
        assert "nothing was changed" in e.value.message
        assert s.table("score_history").count().execute() == 2


def test_contract_tables_cannot_be_written_as_derived(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s, pytest.raises(DataError):
        s.append_derived("orders", _scores(1, [0.1, 0.2]))


def test_derived_tables_have_their_declared_columns_and_types_even_when_empty(tmp_path):
    from loyalist.contract.derived import DERIVED

    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=object),
                          "kind": pd.Series([], dtype=object),
                          "evidence_table": pd.Series([], dtype=object),
                          "evidence_id": pd.Series([], dtype=object),
                          "text": pd.Series([], dtype=object),
                          "must_do": pd.Series([], dtype=object),
                          "as_of": pd.Series([], dtype=object)})
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        s.write_derived("alerts", empty)
        t = s.table("alerts")
        assert list(t.columns) == list(DERIVED["alerts"].names)
        types = dict(s.raw.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                   "WHERE table_name = 'alerts'").fetchall())
        assert types == DERIVED["alerts"].storage_types()
        # an empty alerts table can be filtered and compared like a full one
        assert t.filter(t.at < pd.Timestamp("2024-01-01")).count().execute() == 0


def test_undeclared_tables_and_columns_are_refused(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        with pytest.raises(DataError, match="not a declared derived table"):
            s.write_derived("my_scores", _scores(1, [0.1, 0.2]))
        with pytest.raises(DataError, match="columns not declared: colour"):
            s.write_derived("scores", _scores(1, [0.1, 0.2]).assign(alerts=0, colour="red"))
        with pytest.raises(DataError, match="declared columns missing: p_leave"):
            s.write_derived("scores", _scores(1, [0.1, 0.2]).drop(columns="p_leave"))
        assert "scores" not in s.tables()


def test_bookkeeping_tables_match_their_declarations(tmp_path):
    from loyalist.contract.derived import DERIVED

    with loyalist.connect(tmp_path / "s.duckdb") as s:
        for d in DERIVED.values():
            if not d.bookkeeping:
                continue
            have = dict(s.raw.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                      "WHERE table_name = ?", [d.name]).fetchall())
            assert have == d.storage_types(), d.name
