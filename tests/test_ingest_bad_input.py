"""Numbers a double cannot hold and columns that could be one another: refused with a
reason, not stored silently or settled by column order."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from loyalist.errors import MappingError

ORDERS = "id=order_no,customer_id=client,ordered_at=date,amount=total,quantity=qty"


def _orders(rows: list[tuple[str, str]]) -> str:
    """An export with the given (total, qty) per row."""
    lines = ["order_no,client,date,total,qty"]
    lines += [f"A{i},c{i},2024-03-{i + 1:02d},{total},{qty}"
              for i, (total, qty) in enumerate(rows)]
    return "\n".join(lines) + "\n"


def test_counts_too_large_to_keep_exactly_are_refused_not_rounded(store, write):
    rows = [("10", "9007199254740991"),  # 2^53 - 1: kept exactly
            ("10", "9007199254740992"),  # 2^53
            ("10", "1e30"),  # once a raw engine error
            ("10", "-1e19"),
            ("10", "2.5"),
            ("10", "3")]
    result = store.ingest("orders", write("o.csv", _orders(rows)), ORDERS)
    assert (result.rows_read, result.inserted, result.rejected) == (6, 2, 4)
    kept = store.table("orders").to_pandas().set_index("id")["quantity"]
    assert kept["A0"] == 2**53 - 1 and kept["A5"] == 3
    rej = store.rejects(result.ingest_id).set_index("line")
    assert rej.loc[3, "code"] == rej.loc[4, "code"] == rej.loc[5, "code"] == "out_of_range"
    assert "2^53" in rej.loc[4, "reason"] and rej.loc[4, "value"] == "1e30"
    assert rej.loc[6, "code"] == "not_whole_number"
    # one reason a row: a number too large is not also called "not whole"
    assert len(rej) == 4


@pytest.mark.parametrize("total", ["inf", "-inf", "Infinity", "1e400", "nan", "NaN"])
def test_amounts_that_are_not_finite_are_refused(store, write, total):
    result = store.ingest("orders", write("o.csv", _orders([("5", "1"), (total, "1")])),
                          ORDERS)
    assert (result.inserted, result.rejected) == (1, 1)
    rej = store.rejects(result.ingest_id)
    assert rej["code"].tolist() == ["not_number"] and rej["line"].tolist() == [3]
    assert rej["value"].iloc[0] == total
    amounts = store.table("orders").to_pandas()["amount"]
    assert amounts.tolist() == [5.0]


def test_a_frame_with_non_finite_amounts_is_refused_row_by_row(store):
    frame = pd.DataFrame({"id": ["a", "b", "c"], "customer_id": ["c1", "c2", "c3"],
                          "ordered_at": pd.to_datetime(["2024-01-01"] * 3),
                          "amount": [1.5, float("inf"), float("nan")]})
    result = store.ingest("orders", frame)
    # a missing amount is allowed (NaN from a frame is a missing value); infinity is not
    assert result.rejected == 1
    assert store.rejects(result.ingest_id)["code"].tolist() == ["not_number"]


@pytest.mark.parametrize("header, found", [
    ("order_no,client,date,amount,Amount", "'amount' (column 4), 'Amount' (column 5"),
    ("order_no,client,date,amount,amount ", "'amount ' (column 5, read as"),
    ("order_no,customer_id,date,total,Customer ID", "customer_id"),
])
def test_two_columns_that_could_be_one_are_refused(store, write, header, found):
    path = write("o.csv", f"{header}\nA1,c1,2024-01-01,5,6\n")
    mapping = "id=order_no,ordered_at=date"
    if "client" in header:
        mapping += ",customer_id=client"
    with pytest.raises(MappingError) as e:
        store.ingest("orders", path, mapping)
    assert found in str(e.value) and "unclear" in str(e.value)
    assert "--map" in e.value.hint
    assert len(store.ingests()) == 0 and len(store.rejects()) == 0


def test_a_mapping_settles_which_of_two_columns_is_meant(store, write):
    path = write("o.csv", "order_no,client,date,amount,Amount\nA1,c1,2024-01-01,5,6\n")
    # named as the file writes it, though the reader renames it (Amount_1)
    result = store.ingest("orders", path, "id=order_no,customer_id=client,ordered_at=date,"
                                          "amount=Amount")
    assert result.inserted == 1
    assert store.table("orders").to_pandas()["amount"].tolist() == [6.0]


def test_a_frame_with_two_columns_that_could_be_one_is_refused(store):
    frame = pd.DataFrame({"id": ["a"], "customer_id": ["c1"], "Customer ID": ["c2"],
                          "ordered_at": pd.to_datetime(["2024-01-01"]), "amount": [1.0]})
    with pytest.raises(MappingError, match="customer_id"):
        store.ingest("orders", frame)
    assert store.ingest("orders", frame, {"customer_id": "Customer ID"}).inserted == 1
    assert store.table("orders").to_pandas()["customer_id"].tolist() == ["c2"]


def test_the_cli_says_why_without_a_traceback(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("order_no,client,date,amount,Amount,qty\nA1,c1,2024-01-01,5,6,1e30\n")
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "80", "NO_COLOR": "1"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]

    def run(mapping):
        return subprocess.run([sys.executable, "-m", "loyalist.cli.main", "ingest", "orders",
                               str(src), "--map", mapping, "--store",
                               str(tmp_path / "s.duckdb")],
                              capture_output=True, text=True, env=env)

    proc = run("id=order_no,customer_id=client,ordered_at=date")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "unclear" in out and "--map" in out
    proc = run("id=order_no,customer_id=client,ordered_at=date,amount=amount,quantity=qty")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "2^53" in out.replace("\n", " ")


def test_a_written_fraction_a_double_rounds_away_is_not_whole(store, write):
    rows = [("1", "9007199254740990.5"), ("1", "12.0000000000000001"), ("1", "2.000"),
            ("1", "1.5e1"), ("1", "7")]
    result = store.ingest("orders", write("o.csv", _orders(rows)), ORDERS)
    assert (result.inserted, result.rejected) == (3, 2)
    rej = store.rejects(result.ingest_id)
    assert rej["line"].tolist() == [2, 3] and set(rej["code"]) == {"not_whole_number"}
    kept = store.table("orders").to_pandas().set_index("id")["quantity"]
    assert kept.to_dict() == {"A2": 2, "A3": 15, "A4": 7}
