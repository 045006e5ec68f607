"""Order-lines exports: one row per line grouped into orders, amounts from expressions,
returns stored as returns and linked to their orders, nothing lost, nothing doubled;
and the synthetic business exported as a real shop exports it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.cli.main import main
from loyalist.errors import MappingError

LINES = """InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID
536365,A,6,2010-12-01 08:26,2.55,17850.0
536365,B,2,2010-12-01 08:26,3.39,17850.0
536366,A,1,2010-12-02 08:28,1.85,17850.0
536366,D,4,2010-12-02 08:28,0.10,17850.0
C536367,B,-2,2010-12-03 09:00,3.39,17850.0
536368,Z,3,2010-12-03 09:00,1.00,
536369,Q,3,2010-12-03 09:00,1.00,13047.0
536369,Q,3,2010-12-03 09:00,1.00,13048.0
536370,Q,x,2010-12-03 09:00,1.00,13049.0
536371,R,-1,2010-12-04 10:00,5.00,13050.0
"""
MAP = ("id=InvoiceNo,customer_id=CustomerID,ordered_at=InvoiceDate,product=StockCode,"
       "amount=Quantity*UnitPrice")


def test_lines_are_grouped_into_orders_and_returns_linked(store, write):
    p = write("lines.csv", LINES)
    r = store.ingest("orders", p, MAP, lines=True, return_prefix="C")
    # 10 lines: 6 stored (4 sale lines, 2 returns), 4 quarantined; nothing lost
    assert r.rows_read == 10 and r.lines["stored"] == 6 and r.rejected == 4
    assert r.lines["stored"] + r.rejected == r.rows_read
    assert r.reject_codes == {"order_conflict": 2, "missing_value": 1, "not_number": 1}
    orders = store.table("orders").execute().set_index("id")
    assert sorted(orders.index) == ["536365", "536366"]  # the returns are no orders
    assert orders.loc["536365", "amount"] == pytest.approx(6 * 2.55 + 2 * 3.39, abs=1e-9)
    assert orders.loc["536366", "amount"] == 2.25 and orders.loc["536365", "quantity"] == 8
    assert set(orders["customer_id"]) == {"17850"}  # 17850.0 is the customer 17850
    lines = store.table("order_lines").execute()
    back = lines[lines["status"] == "returned"].set_index("document")
    # the C document returns product B, bought on 536365: linked to it, positive values
    assert back.loc["C536367", "order_id"] == "536365"
    assert back.loc["C536367", "quantity"] == 2 and back.loc["C536367", "amount"] == 6.78
    # a negative quantity without the prefix is a return too; its order is not in the data
    assert back.loc["536371", "order_id"] == "536371" and "536371" not in orders.index
    assert (lines["amount"] >= 0).all()
    # value: 536365 less its partial return; the rest untouched
    from loyalist.features.purchases import purchases

    spend = purchases(store).execute().set_index("id")["amount"]
    assert spend["536365"] == pytest.approx(15.30) and spend["536366"] == 2.25
    # the same file again adds nothing
    again = store.ingest("orders", p, MAP, lines=True, return_prefix="C")
    assert again.inserted == 0 and again.unchanged == 2 and again.lines["lines_inserted"] == 0
    assert store.table("order_lines").count().execute() == 6
    # undo takes the order lines out with the orders
    store.undo_ingest(r.ingest_id)
    store.undo_ingest(again.ingest_id)
    assert store.table("orders").count().execute() == 0
    assert store.table("order_lines").count().execute() == 0


def test_a_full_refund_is_no_purchase_and_shows_in_the_story(store, write):
    p = write("l.csv", "doc,sku,qty,day,price,cust\n1,A,2,2021-01-01,5,c1\n2,A,1,2021-02-01,"
              "4,c1\nC9,A,-1,2021-02-03,4,c1\n")
    store.ingest("orders", p, "id=doc,customer_id=cust,ordered_at=day,product=sku,"
                 "quantity=qty,unit_price=price", lines=True)
    from loyalist.decisions.signals.story import story as customer_story
    from loyalist.features.purchases import purchases

    assert purchases(store).execute()["id"].tolist() == ["1"]  # order 2 came back in full
    from loyalist.features.behaviour import purchase_features

    lines = store.table("order_lines")
    f = purchase_features(store.table("orders"), "2021-03-01", (30,), lines=lines).execute()
    assert f.loc[0, "returns"] == 1 and f.loc[0, "returns_30d"] == 1  # the C document
    assert purchase_features(store.table("orders"), "2021-02-02", (30,),
                             lines=lines).execute().loc[0, "returns"] == 0  # not yet
    story = customer_story(store, "c1")
    refund = story.timeline[story.timeline["what"] == "refund"]
    assert len(refund) == 1 and "4.00 refunded" in refund["detail"].iloc[0]
    assert "order 2" in refund["detail"].iloc[0]


def test_expressions_are_columns_numbers_and_arithmetic_only(store, write):
    p = write("l.csv", "doc,cust,day,Unit Price,Qty\n1,c,2021-01-01,2.5,4\n")
    r = store.ingest("orders", p, {"id": "doc", "customer_id": "cust", "ordered_at": "day",
                                   "amount": '"Unit Price"*Qty*(1-0.2)'}, lines=True)
    assert store.table("orders").amount.execute().tolist() == [8.0] and r.rejected == 0
    for bad in ("Qty*__import__('os')", "Qty;DROP TABLE orders", "Nope*2", "Qty**2"):
        with pytest.raises(MappingError):
            store.ingest("orders", p, {"id": "doc", "customer_id": "cust",
                                       "ordered_at": "day", "amount": bad}, lines=True)
    with pytest.raises(MappingError, match="--lines"):
        store.ingest("requests", p, lines=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Generator: make_business(n_customers=1200, months=24, seed=8, events=False),
    exported by export_lines (seed 8: 1-5 lines an order, float customer ids, month-first
    dates, returned and cancelled orders back in full on C documents, 3% of the others
    with one line returned) and nothing else: no customers table."""
    from loyalist.datasets import make_business
    from loyalist.datasets.exports import export_lines

    b = make_business(n_customers=1200, months=24, seed=8, events=False)
    folder = tmp_path_factory.mktemp("lines")
    e = export_lines(b, folder / "export.csv", seed=8)
    return b, e, folder / "s.duckdb"


def test_the_synthetic_business_exported_as_order_lines(exported, capsys):
    from loyalist.datasets.exports import MAPPING
    from loyalist.decisions.scoring import score
    from loyalist.decisions.value import value_customers
    from loyalist.features.purchases import purchases
    from loyalist.models.early_warning import backtest

    b, e, db = exported
    assert main(["ingest", "orders", str(e.path), "--lines", "--map", MAPPING,
                 "--return-prefix", "C", "--store", str(db)]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert f"{e.lines:,} lines read" in out and "0 lines rejected" in out
    truth = e.orders.set_index("invoice")
    with loyalist.connect(db) as s:
        # zero lines lost, every order total to the cent, customers as whole numbers
        assert s.table("order_lines").count().execute() == e.lines
        orders = s.table("orders").execute().set_index("id")
        assert sorted(orders.index) == sorted(truth.index)
        assert np.allclose(orders.loc[truth.index, "amount"], truth["total"], atol=1e-6)
        assert (orders.loc[truth.index, "customer_id"] == truth["customer"]).all()
        # returns reduce value: each customer's purchases are their orders less refunds,
        # orders returned in full left out
        kept = truth[~truth["fully_returned"]]
        want = (kept["total"] - kept["refunded"]).groupby(kept["customer"]).sum()
        got = purchases(s).execute().groupby("customer_id")["amount"].sum()
        assert truth["refunded"].sum() > 0 and truth["fully_returned"].sum() > 0
        assert np.allclose(got.reindex(want.index).fillna(0), want, atol=0.01)
        assert got.sum() < truth["total"].sum() - 100
        value = value_customers(s)
        assert value.customers["customer_id"].is_unique
        # customers counted once; explain and backtest work on this orders-only store
        run = score(s, horizon=90)
        assert run.scores["customer_id"].is_unique
        recent = truth[truth["ordered_at"] >= run.as_of - pd.Timedelta(days=180)]
        assert len(run.scores) == recent["customer"].nunique()
        bt = backtest(s, horizon=90, n_train_dates=2, path_steps=0, bootstrap=50)
        assert np.isfinite(bt.metrics[["roc_auc", "pr_auc"]].to_numpy()).all()
    assert main(["explain", run.scores["customer_id"].iloc[0], "--store", str(db)]) == 0
