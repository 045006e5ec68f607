"""Ingestion rules: bad rows are kept with line, column and reason; nothing is lost."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from loyalist.errors import IngestError, MappingError, SourceError, UnknownTableError

ORDERS_MAP = "id=order_no,customer_id=client,ordered_at=date,amount=total,quantity=qty"
BAD = """order_no;client;date;total;qty
A1;c1;2021-03-04;10,50;1
A2;c2;03/04/2021;12.00;2
A3;;2021-03-05;5;1
A4;c3;2021-13-45;5;1
A5;c4;2021-03-06;-3;1
A6;c5;2021-03-06;abc;1
A7;c6;2021-03-07;7;2.5
A8;c7;2021-03-08;8
A9;c8;2021-03-09;9;1
A9;c8;2021-03-10;9;1
B1;c9;2021-03-11T10:00:00+02:00;1e2;3
"""


def test_every_bad_row_is_kept_with_line_column_and_reason(store, write):
    result = store.ingest("orders", write("orders.csv", BAD), ORDERS_MAP)
    assert result.rows_read == 11
    assert (result.inserted, result.rejected) == (1, 10)
    assert result.accepted + result.rejected == result.rows_read  # nothing lost
    rej = store.rejects(result.ingest_id).set_index("line")
    expect = {
        2: ("amount", "not_number", "10,50", "not a number"),
        3: ("ordered_at", "ambiguous_date", "03/04/2021", "ambiguous date"),
        4: ("customer_id", "missing_value", None, "missing required value"),
        5: ("ordered_at", "bad_date", "2021-13-45", "unparseable date"),
        6: ("amount", "negative", "-3", "negative value not allowed"),
        7: ("amount", "not_number", "abc", "not a number"),
        8: ("quantity", "not_whole_number", "2.5", "not a whole number"),
        # one id on two lines of one file: a conflict, neither line moves anything
        10: ("id", "duplicate_id", "A9", "the same id is on another line"),
        11: ("id", "duplicate_id", "A9", "the same id is on another line"),
    }
    for line, (column, code, value, reason) in expect.items():
        assert rej.loc[line, "column"] == column
        assert rej.loc[line, "code"] == code
        assert (rej.loc[line, "value"] if value else None) == value, rej.loc[line, "value"]
        assert rej.loc[line, "reason"].startswith(reason), rej.loc[line, "reason"]
        assert not value or value not in rej.loc[line, "reason"]  # words without the value
    assert "MISSING COLUMNS" in rej.loc[9, "reason"]  # malformed line 9
    assert rej.loc[9, "code"] == "malformed_line"
    assert '"total":"10,50"' in rej.loc[2, "raw"]  # raw values kept
    # the rejects file has the same rows
    with open(result.rejects_file, newline="") as f:
        lines = sorted(int(r["line"]) for r in csv.DictReader(f))
    assert lines == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    # accepted rows carry their values; the offset was converted to UTC
    orders = store.table("orders").execute().set_index("id")
    assert str(orders.loc["B1", "ordered_at"]) == "2021-03-11 08:00:00"
    assert orders.loc["B1", "amount"] == 100.0
    assert "A9" not in orders.index


def test_a_record_exported_twice_alike_is_loaded_once(store, write):
    """The same line twice (an export run over an overlapping range, a copy-paste): one
    record, loaded from its first line; the repeat is kept out with the line it repeats.
    Lines of one id that differ are still a conflict, neither loaded."""
    text = ("id,customer_id,ordered_at,amount\n1001.0,17.0,2024-01-03,12.5\n"
            "1002,18,2024-01-04,3\n1001.0,17.0,2024-01-03,12.5\n1001,17,2024-01-03,12.50\n"
            "1003,19,2024-01-05,1\n1003,19,2024-01-05,2\n")
    result = store.ingest("orders", write("o.csv", text))
    assert (result.inserted, result.rejected) == (2, 4)
    rej = store.rejects(result.ingest_id).set_index("line")
    assert dict(rej["code"]) == {4: "repeated_line", 5: "repeated_line",
                                 6: "duplicate_id", 7: "duplicate_id"}
    assert rej.loc[4, "reason"] == "the same record as line 2 of this file, which is loaded"
    got = store.table("orders").execute().set_index("id")
    assert sorted(got.index) == ["1001", "1002"] and got.loc["1001", "amount"] == 12.5
    again = store.ingest("orders", write("o.csv", text))
    assert (again.inserted, again.unchanged, again.rejected) == (0, 2, 4)


def test_decimal_comma_when_asked(store, write):
    p = write("o.csv", "id;customer_id;ordered_at;amount\n1;c;2021-01-01;10,50\n")
    assert store.ingest("orders", p, decimal=",").inserted == 1
    assert store.table("orders").amount.sum().execute() == 10.5


def test_ambiguous_dates_need_a_format(store, write):
    p = write("o.csv", "id,customer_id,ordered_at\n1,c,03/04/2021\n2,c,05/05/2021\n")
    first = store.ingest("orders", p)
    assert (first.inserted, first.rejected) == (1, 1)  # 05/05 reads the same both ways
    second = store.ingest("orders", p, date_format="%d/%m/%Y")
    assert (second.inserted, second.unchanged) == (1, 1)
    got = store.table("orders").execute().set_index("id")["ordered_at"]
    assert str(got["1"].date()) == "2021-04-03"


def test_column_that_settles_day_first(store, write):
    p = write("o.csv", "id,customer_id,ordered_at\n1,c,03/04/2021\n2,c,25/12/2021 10:30\n")
    result = store.ingest("orders", p)
    assert result.inserted == 2 and any("day-first" in n for n in result.notes)
    got = store.table("orders").execute().set_index("id")["ordered_at"]
    assert str(got["1"].date()) == "2021-04-03"
    assert str(got["2"]) == "2021-12-25 10:30:00"


def test_column_mixing_both_orders_is_rejected(store, write):
    p = write("o.csv", "id,customer_id,ordered_at\n1,c,13/04/2021\n2,c,04/13/2021\n"
              "3,c,2021-05-01\n")
    result = store.ingest("orders", p)
    assert (result.inserted, result.rejected) == (1, 2)
    assert all("mixes day-first" in r for r in store.rejects(result.ingest_id)["reason"])


def test_nothing_parses_is_one_clear_error_and_writes_nothing(store, write):
    p = write("o.csv", "id,customer_id,ordered_at\n1,c,soon\n2,c,later\n")
    with pytest.raises(IngestError) as e:
        store.ingest("orders", p)
    assert "nothing was written" in str(e.value) and "unparseable date" in str(e.value)
    assert store.ingests().empty and store.table("orders").count().execute() == 0


def test_wrong_delimiter_is_named(store, write):
    p = write("o.csv", "id;customer_id;ordered_at\n1;c;2021-01-01\n")
    with pytest.raises(MappingError) as e:
        store.ingest("orders", p, delimiter=",")
    assert "separated by ';'" in str(e.value)


def test_wrong_mapping_lists_the_columns(store, write):
    p = write("o.csv", "a,b,c\n1,2,2021-01-01\n")
    with pytest.raises(MappingError) as e:
        store.ingest("orders", p, mapping={"customer_id": "CustID", "ordered_at": "c"})
    assert "no column 'CustID'" in str(e.value) and "a, b, c" in str(e.value)
    with pytest.raises(MappingError) as e:
        store.ingest("orders", p, mapping={"customer_id": "a"})
    assert "needs column(s) ordered_at" in str(e.value)


#: the UCI Online Retail II export's header (Chen 2012), as a shop system writes it
RETAIL = ("Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID\n"
          "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26,2.55,17850.0\n"
          "536366,71053,WHITE METAL LANTERN,2,2010-12-02 08:28,3.39,17850.0\n")


def test_an_export_with_other_names_gets_a_map_it_can_paste(store, write):
    """The required columns under another name: the hint is a --map that loads the file
    (the optional columns the names suggest included), quoted for the shell when a name
    has a space; nothing is ever mapped without the user's --map."""
    p = write("retail.csv", RETAIL.replace("Customer ID", "Client Ref"))
    with pytest.raises(MappingError) as e:
        store.ingest("orders", p, lines=True)
    # a name it cannot place stays a placeholder for the user to fill
    assert ("--map id=Invoice,customer_id=<column>,ordered_at=InvoiceDate,"
            "product=StockCode,unit_price=Price.") in e.value.hint
    q = write("retail2.csv", RETAIL.replace("Customer ID", "Customer No").replace(
        "InvoiceDate", "Invoice Date"))
    with pytest.raises(MappingError) as e:
        store.ingest("orders", q)
    assert '--map "customer_id=Customer No,ordered_at=Invoice Date,id=Invoice".' in e.value.hint
    # a helpdesk's tickets and a CRM's customers, by the names those systems export
    t = write("tickets.csv", "Ticket ID,Requester,Created at,Group,Solved at\n"
              "T1,17,2024-01-02 10:00,Billing,2024-01-03 10:00\n")
    with pytest.raises(MappingError) as e:
        store.ingest("requests", t)
    assert ('--map "customer_id=Requester,opened_at=Created at,id=Ticket ID,team=Group,'
            'resolved_at=Solved at".') in e.value.hint
    c = write("crm.csv", "Customer ID,Company,Customer Since\n17,Acme,2020-01-02\n")
    with pytest.raises(MappingError) as e:
        store.ingest("customers", c)
    assert '--map "id=Customer ID,name=Company,created_at=Customer Since".' in e.value.hint
    assert store.ingests().empty


def test_columns_that_look_like_the_contracts_are_named_and_missing_amounts_said(store,
                                                                                 write):
    """Lines whose price column is called Price: loaded without amounts unless mapped,
    and the ingest says so, naming the --map that fixes it; mapped, the note is gone."""
    p = write("retail.csv", RETAIL)
    r = store.ingest("orders", p, "id=Invoice,ordered_at=InvoiceDate", lines=True)
    assert r.inserted == 2
    assert "'Price' looks like orders.unit_price, which nothing feeds: --map " \
           "unit_price=Price to load it" in r.notes
    assert any(n.startswith("No column gives the amount (or unit_price with quantity)")
               for n in r.notes)
    assert store.table("orders").amount.isnull().all().execute()
    r = store.ingest("orders", p, "id=Invoice,ordered_at=InvoiceDate,unit_price=Price,"
                     "product=StockCode", lines=True)
    assert not any("looks like" in n or "No column gives" in n for n in r.notes), r.notes
    assert store.table("orders").amount.sum().execute() == pytest.approx(6 * 2.55 + 2 * 3.39)


def test_unknown_table_and_missing_file(store, tmp_path):
    with pytest.raises(UnknownTableError) as e:
        store.ingest("orderz", tmp_path / "x.csv")
    assert "orders" in str(e.value)
    with pytest.raises(SourceError, match="File not found"):
        store.ingest("orders", tmp_path / "missing.csv")


def test_latin1_is_detected(store, write):
    p = write("c.csv", "id;name;segment\n1;Café Müller;Gastronomie\n2;Zoë Ærø;Détail\n"
              * 1, encoding="latin-1")
    result = store.ingest("customers", p)
    assert result.inserted == 2 and "cp1252" in result.notes[0]
    names = set(store.table("customers").name.execute())
    assert names == {"Café Müller", "Zoë Ærø"}


def test_wrong_encoding_given_is_a_clear_error(store, write):
    p = write("c.csv", "id,name\n1,Zoë\n", encoding="utf-16")
    with pytest.raises(SourceError, match="UTF-16"):
        store.ingest("customers", p, encoding="utf-8")


def test_overlapping_exports_do_not_duplicate(store, tmp_path):
    rows = [{"customer_id": f"c{i % 7}", "ordered_at": f"2021-01-{1 + i % 28:02d}",
             "amount": float(i % 5)} for i in range(150)]
    df = pd.DataFrame(rows)  # no ids: identity is content hash + occurrence
    first = store.ingest("orders", df.iloc[:100])
    second = store.ingest("orders", df.iloc[50:])
    assert first.inserted == 100
    # identical rows exist (i and i+140 collide); each occurrence is its own row
    assert store.table("orders").count().execute() == len(df.iloc[:100]) + 50 - _overlap(df)
    assert second.inserted + second.unchanged == 100


def _overlap(df):
    """Rows of the second slice already present by (content, occurrence)."""
    a = df.iloc[:100].value_counts()
    b = df.iloc[50:].value_counts()
    return int(sum(min(a.get(k, 0), n) for k, n in b.items()) - 50)


def test_identical_rows_in_one_file_are_all_kept(store, write):
    p = write("o.csv", "customer_id,ordered_at,amount\nc,2021-01-01,5\nc,2021-01-01,5\n")
    assert store.ingest("orders", p).inserted == 2
    assert store.ingest("orders", p).unchanged == 2
    assert store.table("orders").count().execute() == 2


def test_later_export_updates_lifecycle_without_duplicating(store, write):
    store.ingest("orders", write("a.csv", "id,customer_id,ordered_at,status\n"
                                 "1,c,2021-01-01,placed\n2,c,2021-01-02,placed\n"))
    later = store.ingest("orders", write("b.csv", "id,customer_id,ordered_at,fulfilled_at\n"
                                         "1,c,2021-01-01,2021-01-05\n2,c,2021-01-02,\n"))
    assert (later.inserted, later.updated, later.unchanged) == (0, 1, 1)
    o = store.table("orders").execute().set_index("id")
    assert o.loc["1", "status"] == "placed"  # columns the export lacks are kept
    assert str(o.loc["1", "fulfilled_at"].date()) == "2021-01-05"


def test_bad_requests_are_quarantined(store, write):
    p = write("r.csv", "id,customer_id,opened_at,first_response_at,text\n"
              "r1,c,2021-01-02 10:00,2021-01-02 09:00,hello\n"
              "r2,c,2021-01-02 10:00,2021-01-02 11:00,\n"
              "r3,c,2021-01-02 10:00,2021-01-02 11:00,where is my order\n")
    result = store.ingest("requests", p)
    assert (result.inserted, result.rejected) == (1, 2)
    reasons = store.rejects(result.ingest_id).set_index("line")["reason"]
    assert "first_response_at is before opened_at" in reasons[2]
    assert reasons[3] == "empty request: no text"


def test_strict_mode_rejects_unknown_customers(store, write):
    store.ingest("customers", write("c.csv", "id,name\nc1,Ann\n"))
    p = write("o.csv", "id,customer_id,ordered_at\n1,c1,2021-01-01\n2,zz,2021-01-02\n")
    result = store.ingest("orders", p, strict=True)
    assert (result.inserted, result.rejected) == (1, 1)
    rej = store.rejects(result.ingest_id).iloc[0]
    assert "unknown customer" in rej["reason"] and rej["value"] == "zz"
    assert rej["code"] == "unknown_customer"
    assert store.ingest("orders", p).inserted == 1  # lenient by default


def test_touches_are_append_only(store, write):
    p = write("t.csv", "id,customer_id,at,kind,outcome\nt1,c,2021-01-01,call,reached\n")
    store.ingest("touches", p)
    q = write("t2.csv", "id,customer_id,at,kind,outcome\nt1,c,2021-01-01,call,saved\n")
    result = store.ingest("touches", q)
    assert (result.updated, result.rejected) == (0, 1)
    assert "append-only" in store.rejects(result.ingest_id)["reason"].iloc[0]
    assert store.table("touches").outcome.execute().tolist() == ["reached"]


def test_feedback_ranges(store, write):
    p = write("f.csv", "customer_id,answered_at,nps,trust\nc,2021-01-01,11,3\n"
              "c,2021-01-02,9,0\nc,2021-01-03,10,5\n")
    result = store.ingest("feedback", p)
    assert (result.inserted, result.rejected) == (1, 2)
    reasons = store.rejects(result.ingest_id)["reason"].tolist()
    assert any("above the maximum 10" in r for r in reasons)
    assert any("below 1" in r for r in reasons)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "xlsx", "frame", "tsv"])
def test_formats(store, tmp_path, fmt):
    df = pd.DataFrame({"Order ID": ["o1", "o2", "o3"], "Customer": ["a", "b", "a"],
                       "Date": pd.to_datetime(["2021-01-01", "2021-02-01 12:00", "2021-03-01"],
                                             format="ISO8601"),
                       "Total": [1.5, 2.0, -1.0]})
    mapping = {"id": "Order ID", "customer_id": "Customer", "ordered_at": "Date",
               "amount": "Total"}
    path = tmp_path / f"orders.{fmt}"
    if fmt == "parquet":
        df.to_parquet(path)
    elif fmt == "jsonl":
        df.assign(Date=df.Date.astype(str)).to_json(path, orient="records", lines=True)
    elif fmt == "xlsx":
        df.to_excel(path, index=False)
    elif fmt == "tsv":
        df.to_csv(path, sep="\t", index=False)
    source = df if fmt == "frame" else path
    result = store.ingest("orders", source, mapping)
    assert (result.inserted, result.rejected) == (2, 1)
    rej = store.rejects(result.ingest_id)
    # line numbers point at the row: header is line 1 in text and Excel files
    assert rej["line"].iloc[0] == (3 if fmt in ("frame", "parquet", "jsonl") else 4)
    got = store.table("orders").execute().set_index("id")
    assert str(got.loc["o2", "ordered_at"]) == "2021-02-01 12:00:00"


def test_toml_mapping_file(store, write):
    m = write("map.toml", '[columns]\ncustomer_id = "CustID"\nordered_at = "InvoiceDate"\n'
              'amount = "Total"\n')
    p = write("o.csv", "CustID,InvoiceDate,Total\nx,2021-01-01,3\n")
    assert store.ingest("orders", p, mapping=str(m)).inserted == 1


def test_float_ids_are_whole_numbers_and_the_summary_counts_by_code(store, write, tmp_path,
                                                                    capsys):
    """Ids exported as floats (17850.0) are the ids they name; the CLI's summary counts
    the rejected rows by reason code, not by 330 reasons that each embed a value."""
    from loyalist.cli.main import main

    p = write("o.csv", "id,customer_id,ordered_at,amount\n536365.0,17850.0,2021-01-01,5\n"
              "536366,17850,2021-01-02,6\nx1,17851.0,2021-01-03,abc\nx2,17852,2021-01-03,"
              "def\nx3,17853,2021-01-04,-1\n")
    result = store.ingest("orders", p)
    orders = store.table("orders").execute().set_index("id")
    assert sorted(orders.index) == ["536365", "536366"]
    assert set(orders["customer_id"]) == {"17850"}
    assert result.reject_codes == {"not_number": 2, "negative": 1}
    db = tmp_path / "cli.duckdb"
    capsys.readouterr()
    assert main(["ingest", "orders", str(p), "--store", str(db)]) == 0
    assert "Rejected by reason: not_number 2, negative 1" in capsys.readouterr().out
