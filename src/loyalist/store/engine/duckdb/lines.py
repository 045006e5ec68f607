"""Order lines: an export with one row per line of an order, grouped into orders.

``loyalist ingest orders FILE --lines`` (``Store.ingest(..., lines=True)``) reads each
row as one line of an order, in one transaction and inside the engine:

1. every line is parsed and checked as an ordinary ingest checks a row (reasons with a
   code, kept in the quarantine with the offending value); the amount may come from a
   mapping expression (``--map amount=Quantity*UnitPrice``) that is parsed here into a
   tree of known columns, numbers and + - * / and built from quoted names only;
2. lines of one order that disagree on its customer are a conflict: all of them are
   quarantined and nothing of that order moves; one line number twice in one order too;
3. a line with a negative quantity or amount, or whose document id starts with the
   return prefix (``C`` for the usual cancellation invoices), is a return: stored with
   status ``returned`` and positive quantity and amount, linked to the order it returns
   (the customer's latest earlier line of that product, in this file or in the store);
4. the sale lines of each order give its row in ``orders`` (first line's time, the sum
   of the amounts and of the quantities); every line lands in ``order_lines``. Both are
   merged by key (order id; document and line), so the same file twice adds nothing.
"""

from __future__ import annotations

import time

import ibis

from loyalist.contract.schema import ORDER_LINES, ORDERS, Column
from loyalist.errors import IngestError
from loyalist.store.engine import rollback
from loyalist.store.engine.duckdb.ingest import (
    IngestResult,
    _merge,
    log_ingest,
    next_ingest_id,
    rejects_written,
    settle_dates,
)
from loyalist.store.engine.duckdb.parsing import Options, why
from loyalist.store.engine.duckdb.quarantine import (
    STAGE,
    _reason_col,
    diagnose,
    store_rejects,
)
from loyalist.store.ingest import checks
from loyalist.store.ingest.lines import (
    SOURCE,
    lines_notes,
    split_expressions,
    walk_expression,
)
from loyalist.store.ingest.mapping import likely_notes, resolve
from loyalist.store.sql import lit, q

ORDERS_STAGE = "_loyalist_stage_orders"
LINES_STAGE = "_loyalist_stage_lines"

def expression_sql(text: str, columns: list[str], number_of) -> tuple[str, list[str]]:
    """A mapping expression as SQL over the source's parsed numbers, and the columns it
    reads (:func:`loyalist.store.ingest.lines.walk_expression` checks it: only columns,
    numbers and + - * / with brackets); ``number_of(column)`` is the SQL of a column's
    parsed number."""

    def combine(op, *args):
        if op == "num":
            return repr(args[0])
        if op == "neg":
            return f"(-{args[0]})"
        if op == "/":
            return f"({args[0]} / NULLIF({args[1]}, 0))"
        return f"({args[0]} {op} {args[1]})"

    return walk_expression(text, columns, number_of, combine)


def ingest_lines(con, src, mapping: dict[str, str], opts: Options, *,
                 return_prefix: str | None, rejects_dir, step, started) -> IngestResult:
    """Ingest the order lines of source ``src`` (see the module's description)."""
    plain, exprs = split_expressions(mapping, src.columns)
    chosen, _attrs, ignored = resolve(SOURCE, src.columns, plain, src.own_names())
    for target in exprs:
        chosen.pop(target, None)
    notes = settle_dates(con, SOURCE, src, chosen, opts)
    for e in exprs.values():  # checked before anything is read
        expression_sql(e, src.columns, str)
    step("checking")
    used = _stage_lines(con, src, chosen, exprs, opts, return_prefix)
    ignored = [c for c in ignored if c not in used]
    notes += likely_notes(SOURCE, {*chosen, *exprs}, ignored)
    names = ["id", "customer_id", "ordered_at", "product", "quantity", "unit_price", "amount",
             "line"]
    reason_cols = [_reason_col(n) for n in names] + [q("_r__key")]
    bad_filter = " OR ".join(f"{r} IS NOT NULL" for r in reason_cols)
    n_rows, n_bad = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {bad_filter}) FROM {STAGE}").fetchall()[0]
    rows_read = n_rows + len(src.structural_rejects)
    if rows_read == 0:
        raise IngestError(f"{src.label} has no data rows.",
                          hint="Check that the export wrote any rows.")
    if n_rows - n_bad == 0:
        msg, hint = diagnose(con, src, names, reason_cols, rows_read)
        raise IngestError(msg, hint=hint)
    has_amount = "amount" in chosen or "amount" in exprs or {"quantity", "unit_price"} <= set(
        chosen)
    order_cols = ["id", "customer_id", "ordered_at"] + (["amount"] if has_amount else []) + (
        ["quantity"] if "quantity" in chosen else [])
    step("writing")
    con.execute("SET preserve_insertion_order = false")
    con.execute("BEGIN TRANSACTION")
    try:
        ingest_id = next_ingest_id(con)
        _orders_stage(con, bad_filter)
        orders = _merge(con, ORDERS, order_cols, ingest_id, stage=ORDERS_STAGE)
        orders.pop("conflicts")
        _lines_stage(con, bad_filter)
        lines = _merge(con, ORDER_LINES, list(ORDER_LINES.names), ingest_id,
                       stage=LINES_STAGE)
        lines.pop("conflicts")
        n_returns, n_linked, refunded = con.execute(
            f"SELECT count(*) FILTER (WHERE status = 'returned'), count(*) FILTER (WHERE "
            f"_linked), sum(amount) FILTER (WHERE status = 'returned') FROM {LINES_STAGE}"
        ).fetchall()[0]
        sources = {n: s for n, s in chosen.items()}
        n_rejected = (store_rejects(con, ORDERS, src, ingest_id, names, bad_filter, None,
                                     sources)
                      if n_bad or src.structural_rejects else 0)
        rejects_file = (str(rejects_dir / f"ingest-{ingest_id}-orders.csv") if n_rejected
                        else None)
        detail = {"lines": True, "mapping": chosen, "expressions": exprs,
                  "return_prefix": return_prefix, "date_format": list(opts.date_format),
                  "delimiter": src.delimiter, "encoding": src.encoding,
                  "order_lines": {k: int(v) for k, v in lines.items()},
                  "returns": int(n_returns), "returns_linked": int(n_linked)}
        log_ingest(con, ingest_id, ORDERS.name, src.label, src.format, started, rows_read,
                   orders, n_rejected, detail, rejects_file)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    codes = rejects_written(con, ingest_id, rejects_file)
    n_lines = sum(lines.values())
    notes += lines_notes(lines, orders, n_returns, n_linked, refunded)
    return IngestResult(
        ingest_id=ingest_id, table="orders", source=src.label, rows_read=rows_read,
        inserted=orders["inserted"], updated=orders["updated"], unchanged=orders["unchanged"],
        rejected=n_rejected, rejects_file=rejects_file, ignored_columns=ignored, notes=notes,
        seconds=time.perf_counter() - started, reject_codes=codes,
        lines={"read": rows_read, "stored": n_lines, "returns": int(n_returns),
               "returns_linked": int(n_linked), **{f"lines_{k}": int(v)
                                                   for k, v in lines.items()}})


def _stage_lines(con, src, chosen, exprs, opts, return_prefix) -> set[str]:
    """One row per source line: parsed values, their reasons, the return flag, the line
    number and the key (document and line). Returns the source columns read.

    A text column is parsed once per distinct value (a dictionary joined back to the
    lines): an export repeats its dates, customers and prices on every line."""
    joins: list[str] = []
    dicts: dict[tuple[str, str], str] = {}

    def parsed(col: Column, source: str, numeric: bool = False) -> tuple[str, str]:
        """The value and reason SQL of ``source`` read as ``col`` (or as a number)."""
        kind = "number" if numeric else col.name
        if (kind, source) not in dicts:
            # the rules of loyalist.store.ingest.checks, compiled for DuckDB, once per distinct
            # raw value (typed sources too: the join is on the value itself)
            d = checks.raw_table(src.name, src.columns, src.types).select(source).distinct()
            if numeric:
                value, reason = checks.number(d[source], src.types[source], opts), None
            else:
                value, reason = checks.column(d, col, source, src.types[source], opts)
            expr = d.select(_loyalist_raw=d[source], _loyalist_v=value,
                            _loyalist_r=reason if reason is not None else ibis.null("string"))
            alias = f"_loyalist_dict_{len(dicts)}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {alias} AS "
                        f"{ibis.to_sql(expr, dialect='duckdb', pretty=False)}")
            joins.append(f"LEFT JOIN {alias} ON s.{q(source)} IS NOT DISTINCT FROM "
                         f"{alias}._loyalist_raw")
            dicts[(kind, source)] = f"{alias}._loyalist_v\x00{alias}._loyalist_r"
        value, reason = dicts[(kind, source)].split("\x00")
        return value, reason

    def number_of(source: str) -> str:
        return parsed(SOURCE.column("amount"), source, numeric=True)[0]

    parts, used = [], set(chosen.values())
    for col in SOURCE.columns:
        if col.name in exprs:
            value, inputs = expression_sql(exprs[col.name], src.columns, number_of)
            used |= set(inputs)
            bad = " OR ".join(f"(s.{q(c)} IS NOT NULL AND {number_of(c)} IS NULL)"
                              for c in dict.fromkeys(inputs))
            reason = (f"CASE WHEN {bad} THEN "
                      f"{why('not_number', 'not a number in the ' + col.name + ' expression')} "
                      f"WHEN {value} IS NULL THEN "
                      f"{why('no_amount', 'the amount expression gives no value')} END")
        elif col.name in chosen:
            # a line's quantity and amount may be negative (a return): no minimum here
            value, reason = parsed(col, chosen[col.name])
        elif col.name == "amount" and {"quantity", "unit_price"} <= set(chosen):
            value = f"({number_of(chosen['quantity'])} * {number_of(chosen['unit_price'])})"
            reason = "NULL"
        else:
            value, reason = f"CAST(NULL AS {col.storage_type})", "NULL"
        if col.name == "amount":  # a product of prices in cents stays in cents
            value = f"round({value}, 6)"
        parts.append(f"{value} AS {q(col.name)}, {reason} AS {_reason_col(col.name)}")
    ok = " AND ".join(f"{_reason_col(c.name)} IS NULL" for c in SOURCE.columns)
    prefix = (f" OR starts_with(p.{q('id')}, {lit(return_prefix)})" if return_prefix else "")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS WITH p AS (SELECT s._line, "
        f"{', '.join(parts)} FROM {src.name} s {' '.join(joins)}), n AS (SELECT p.* "
        f"REPLACE (coalesce(p.line, row_number() OVER (PARTITION BY p.{q('id')} ORDER BY p._line)) AS line), "
        f"(coalesce(p.quantity < 0, false) OR coalesce(p.amount < 0, false){prefix}) AS "
        f"_return FROM p) SELECT *, CASE WHEN {ok} THEN {q('id')} || '#' || line END AS _key, "
        f"CAST(NULL AS VARCHAR) AS {q('_r__key')} FROM n")
    # one order, two customers: neither is trusted, nothing of the order moves
    conflict = why("order_conflict", "the lines of this order name different customers; "
                   "none of them is loaded")
    con.execute(
        f"UPDATE {STAGE} SET {q('_r__key')} = {conflict} FROM (SELECT {q('id')} AS doc FROM "
        f"{STAGE} WHERE _key IS NOT NULL GROUP BY ALL HAVING count(DISTINCT customer_id) > 1) "
        f"WHERE {q('id')} = doc")
    twice = why("duplicate_id", "the same line number of one order is on two lines of this "
                "file; neither is loaded")
    con.execute(
        f"UPDATE {STAGE} SET {q('_r__key')} = {twice} FROM (SELECT _key AS k FROM {STAGE} "
        f"WHERE _key IS NOT NULL GROUP BY ALL HAVING count(*) > 1) WHERE _key = k "
        f"AND {q('_r__key')} IS NULL")
    return used


def _orders_stage(con, bad_filter: str) -> None:
    """Each order from its sale lines: the first line's time, the sums of amount and
    quantity (a quantity only when every line's is whole)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ORDERS_STAGE} AS SELECT {q('id')}, "
        "any_value(customer_id) AS customer_id, min(ordered_at) AS ordered_at, "
        "round(sum(amount), 6) AS amount, CASE WHEN bool_and(quantity = round(quantity)) THEN "
        "CAST(sum(quantity) AS BIGINT) END AS quantity, min(_line) AS _line, "
        f"{q('id')} AS _key, CAST(NULL AS VARCHAR) AS {q('_r__key')} FROM {STAGE} "
        f"WHERE NOT ({bad_filter}) AND NOT _return GROUP BY {q('id')}")


def _lines_stage(con, bad_filter: str) -> None:
    """Every good line as an ``order_lines`` row; a return linked to the order it
    returns: the customer's latest line of the product at or before it, in this file or
    already stored (the return's own document when there is none)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {LINES_STAGE} AS WITH g AS (SELECT * FROM {STAGE} "
        f"WHERE NOT ({bad_filter})), sales AS (SELECT {q('id')} AS sale, customer_id AS c, "
        "coalesce(product, '') AS p, ordered_at AS t FROM g WHERE NOT _return UNION ALL "
        "SELECT order_id, customer_id, coalesce(product, ''), \"at\" FROM order_lines "
        "WHERE status IS NULL), linked AS (SELECT r._line AS l, s.sale FROM "
        "(SELECT * FROM g WHERE _return) r ASOF LEFT JOIN sales s ON r.customer_id = s.c "
        "AND coalesce(r.product, '') = s.p AND r.ordered_at >= s.t) "
        f"SELECT CASE WHEN g._return THEN coalesce(linked.sale, g.{q('id')}) ELSE "
        f"g.{q('id')} END AS order_id, g.line, g.{q('id')} AS document, g.customer_id, "
        "g.ordered_at AS \"at\", g.product, abs(g.quantity) AS quantity, "
        "abs(g.unit_price) AS unit_price, abs(g.amount) AS amount, CASE WHEN g._return "
        "THEN 'returned' END AS status, g._line, g._key, "
        f"CAST(NULL AS VARCHAR) AS {q('_r__key')}, linked.sale IS NOT NULL AS _linked "
        "FROM g LEFT JOIN linked ON linked.l = g._line")
