"""Real exports through the public ingestion path, checked against their PROVENANCE."""

from __future__ import annotations

from conftest import DATA

CDNOW = DATA / "cdnow_lifetimes"
TELCO = DATA / "ibm_telco_churn" / "Telco-Customer-Churn.csv"


def test_cdnow_master_log_matches_provenance(store):
    result = store.ingest("orders", CDNOW / "CDNOW_master.txt",
                          mapping="ordered_at=date,amount=dollar_value,quantity=number_of_cds")
    assert (result.rows_read, result.inserted, result.rejected) == (69_659, 69_659, 0)
    orders = store.table("orders")
    assert orders.count().execute() == 69_659
    assert orders.customer_id.nunique().execute() == 23_570
    assert round(orders.amount.sum().execute(), 2) == 2_500_315.63
    assert orders.filter(orders.amount == 0).count().execute() == 80
    lo, hi = orders.ordered_at.min().execute(), orders.ordered_at.max().execute()
    assert (str(lo.date()), str(hi.date())) == ("1997-01-01", "1998-06-30")
    # ids keep their leading zeros
    assert orders.filter(orders.customer_id == "00001").count().execute() == 1


def test_reingesting_the_same_log_adds_nothing(store):
    mapping = {"ordered_at": "date", "amount": "dollar_value", "quantity": "number_of_cds"}
    store.ingest("orders", CDNOW / "CDNOW_master.txt", mapping)
    again = store.ingest("orders", CDNOW / "CDNOW_master.txt", mapping)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 69_659)
    assert store.table("orders").count().execute() == 69_659


def test_cdnow_sample_without_header(store):
    result = store.ingest(
        "orders", CDNOW / "CDNOW_sample.txt", header=False,
        names=["master_id", "customer_id", "ordered_at", "quantity", "amount"])
    assert result.inserted == 6_919
    assert store.table("orders").customer_id.nunique().execute() == 2_357


def test_telco_customers_with_typed_attributes(store):
    result = store.ingest("customers", TELCO, mapping={"id": "customerID"})
    assert result.inserted == 7_043 and result.rejected == 0
    attrs = store.attributes()
    assert attrs["monthly_charges"] == "DOUBLE"
    assert attrs["total_charges"] == "DOUBLE"
    assert attrs["tenure"] == "BIGINT"
    assert attrs["contract"] == "VARCHAR"
    c = store.table("customers")
    assert c.filter(c.churn == "Yes").count().execute() == 1_869
    # the 11 blank TotalCharges are missing values, not zeros and not rejects
    assert c.total_charges.isnull().sum().execute() == 11
    assert round(c.monthly_charges.sum().execute(), 2) == round(
        __import__("pandas").read_csv(TELCO)["MonthlyCharges"].sum(), 2)
