"""Order lines on a Spark store: ``loyalist ingest orders FILE --lines`` by the DuckDB
store's rules (:mod:`loyalist.store.engine.duckdb.lines`), every step over the lines in
Spark through Ibis.

The file is read on the driver by the same readers and handed to Spark as raw columns
(as :mod:`loyalist.store.engine.spark.ingest` does); then, in Spark: each line parsed and
checked by :mod:`loyalist.store.ingest.checks` (the mapping expression built from its
checked tree, :func:`loyalist.store.ingest.lines.walk_expression`), the line numbers,
the returns (a negative quantity or amount, or the return prefix), the conflicts (one
order, two customers; one line twice), each order from its sale lines, and each return
linked to the order it returns (the customer's latest line of the product at or before
it, in the file or stored: a join and a window where DuckDB uses an ASOF join; between
two sales at the same moment the larger order id). Both tables, the rejected lines and
the log's row are staged and put in place together, or nothing is.
"""

from __future__ import annotations

import operator
import time
from pathlib import Path

import ibis

from loyalist.contract.schema import ORDER_LINES, ORDERS
from loyalist.errors import IngestError
from loyalist.store.engine import read_export
from loyalist.store.engine.duckdb.ingest import settle_dates
from loyalist.store.engine.duckdb.quarantine import diagnosis
from loyalist.store.engine.spark.ingest import _Ingest, _write_rejects_file
from loyalist.store.ingest import checks
from loyalist.store.ingest.lines import (
    SOURCE,
    lines_notes,
    split_expressions,
    walk_expression,
)
from loyalist.store.ingest.mapping import likely_notes, parse_mapping, resolve
from loyalist.store.ingest.rules import IngestResult
from loyalist.store.migrations import INGESTS

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_NAMES = list(SOURCE.names)


def ingest_lines(store, source, mapping=None, *, format=None, header=True, names=None,
                 delimiter=None, encoding=None, sheet=None, date_format=None,
                 decimal=".", return_prefix=None, step, started) -> IngestResult:
    """Ingest the order lines of ``source`` into ``orders`` and ``order_lines`` of the
    Spark store ``store`` (the arguments of :meth:`loyalist.store.Store.ingest`)."""
    mapping = parse_mapping(mapping)
    opts = checks.ingest_options(date_format, decimal)
    step("reading")
    con, src, rows = read_export(source, fmt=format, header=header, names=names,
                                 delimiter=delimiter, encoding=encoding, sheet=sheet)
    try:
        plain, exprs = split_expressions(mapping, src.columns)
        chosen, _attrs, ignored = resolve(SOURCE, src.columns, plain, src.own_names())
        for target in exprs:
            chosen.pop(target, None)
        notes = settle_dates(con, SOURCE, src, chosen, opts)
        used = set(chosen.values())
        for e in exprs.values():  # checked before anything is read
            used |= set(walk_expression(e, src.columns, str, lambda *a: "")[1])
    finally:
        con.close()
        for tmp in src.cleanup:
            Path(tmp).unlink(missing_ok=True)
    ignored = [c for c in ignored if c not in used]
    notes += likely_notes(SOURCE, {*chosen, *exprs}, ignored)
    return _Lines(store, ORDERS, src, rows, chosen, {}, {}, ignored, notes, opts, False,
                  step, started, False, exprs=exprs, return_prefix=return_prefix).run()


def _combine(op, *args):
    """:func:`walk_expression`'s operations as Ibis expressions."""
    if op == "num":
        return ibis.literal(args[0], type="float64")
    if op == "neg":
        return -args[0]
    if op == "/":
        return args[0] / args[1].nullif(0)
    return _ARITHMETIC[op](*args)


class _Lines(_Ingest):
    def __init__(self, *args, exprs: dict, return_prefix: str | None):
        super().__init__(*args)
        self.exprs, self.return_prefix = exprs, return_prefix
        self.names = _NAMES  # the stage's columns: every column a line may carry
        self.added = {}

    def _stage(self, raw):
        """One row per source line: the parsed values and their reasons, the return
        flag, the line number, the key (document and line) and its conflicts."""
        chosen, types = self.chosen, self.src.types
        st = checks.staged(raw, SOURCE, chosen, types, {}, {}, self.opts, False)
        extra = {}
        for target, text in self.exprs.items():

            def number_of(column):
                return checks.number(raw[column], types[column], self.opts)

            value, inputs = walk_expression(text, self.src.columns, number_of, _combine)
            bad = ibis.or_(*[raw[c].notnull() & number_of(c).isnull()
                             for c in dict.fromkeys(inputs)])
            extra[target] = value
            extra[checks.reason_name(target)] = ibis.cases(
                (bad, checks.why("not_number", f"not a number in the {target} expression")),
                (value.isnull(), checks.why("no_amount", "the amount expression gives no "
                                            "value")), else_=ibis.null("string"))
        if extra:
            ex = raw.select(_xl=raw._line, **extra)
            st = st.inner_join(ex, st._line == ex._xl).drop("_xl")
        fill = {}
        for col in SOURCE.columns:
            if col.name in st.columns:
                continue
            if col.name == "amount" and {"quantity", "unit_price"} <= set(chosen):
                fill["amount"] = st.quantity * st.unit_price
            else:
                fill[col.name] = ibis.null(checks.STORED[col.storage_type])
            fill[checks.reason_name(col.name)] = ibis.null("string")
        st = st.mutate(**fill) if fill else st
        nth = ibis.row_number().over(group_by=st.id, order_by=st._line) + 1
        ret = (st.quantity < 0).fill_null(False) | (st.amount < 0).fill_null(False)
        if self.return_prefix:
            ret = ret | st.id.startswith(self.return_prefix).fill_null(False)
        # a product of prices in cents stays in cents
        st = st.mutate(amount=st.amount.round(6), line=st.line.fill_null(nth.cast("int64")),
                       _return=ret)
        ok = ibis.and_(*[st[checks.reason_name(n)].isnull() for n in _NAMES])
        st = st.mutate(_key=ibis.cases((ok, st.id.concat("#", st.line.cast("string"))),
                                       else_=ibis.null("string")))
        # one order, two customers: neither is trusted, nothing of the order moves
        keyed = st.filter(st._key.notnull())
        docs = (keyed.group_by(_doc=keyed.id).aggregate(_n=keyed.customer_id.nunique())
                .filter(lambda t: t._n > 1))
        st = st.left_join(docs, st.id == docs._doc)
        twice = st._key.count().over(group_by=st._key)
        st = st.select(
            *[c for c in st.columns if c not in ("_doc", "_n", "_r__key")],
            _r__key=ibis.cases(
                (st._doc.notnull(), checks.why(
                    "order_conflict", "the lines of this order name different customers; "
                    "none of them is loaded")),
                (st._key.notnull() & (twice > 1), checks.why(
                    "duplicate_id", "the same line number of one order is on two lines of "
                    "this file; neither is loaded")), else_=ibis.null("string")))
        return st

    def _orders(self, good):
        """Each order from its sale lines: the first line's time, the sums of amount and
        quantity (a quantity only when every line's is whole)."""
        s = good.filter(~good._return)
        whole = (s.quantity == s.quantity.round()).all()
        return s.group_by("id").aggregate(
            customer_id=s.customer_id.min(), ordered_at=s.ordered_at.min(),
            amount=s.amount.sum().round(6),
            quantity=ibis.ifelse(whole, s.quantity.sum().cast("int64"),
                                 ibis.null("int64")),
            _line=s._line.min()).mutate(_key=lambda t: t.id,
                                        _r__key=ibis.null("string"))

    def _lines(self, good):
        """Every good line as an ``order_lines`` row, each return linked to the order it
        returns (the return's own document when there is none)."""
        mine = good.filter(~good._return)
        stored = self.store.table("order_lines")
        stored = stored.filter(stored.status.isnull())
        sales = ibis.union(
            mine.select(sale=mine.id, c=mine.customer_id, p=mine.product.fill_null(""),
                        t=mine.ordered_at),
            stored.select(sale=stored.order_id, c=stored.customer_id,
                          p=stored.product.fill_null(""), t=stored["at"].cast("timestamp")))
        back = good.filter(good._return)
        back = back.select(l=back._line, rc=back.customer_id, rp=back.product.fill_null(""),
                           rt=back.ordered_at)
        cand = back.inner_join(sales, (back.rc == sales.c) & (back.rp == sales.p)
                               & (back.rt >= sales.t))
        rank = ibis.row_number().over(group_by=cand.l,
                                      order_by=[ibis.desc(cand.t), ibis.desc(cand.sale)])
        best = cand.mutate(_rank=rank).filter(lambda t: t._rank == 0).select("l", "sale")
        g = good.left_join(best, good._line == best.l)
        return g.select(
            order_id=ibis.ifelse(g._return, g.sale.fill_null(g.id), g.id), line=g.line,
            document=g.id, customer_id=g.customer_id, at=g.ordered_at, product=g.product,
            quantity=g.quantity.abs(), unit_price=g.unit_price.abs(), amount=g.amount.abs(),
            status=ibis.ifelse(g._return, ibis.literal("returned"), ibis.null("string")),
            _line=g._line, _key=g._key, _r__key=ibis.null("string"),
            _linked=g.sale.notnull())

    def _run(self) -> IngestResult:
        store, src = self.store, self.src
        raw = self._view(self.raw_df)
        self.step("checking")
        st = self._view(self._materialise(self._stage(raw), "stage"))
        reason_cols, bad, n_rows, n_bad, rows_read = self._counted(st)
        if n_rows - n_bad == 0:
            msg, hint = diagnosis(src, rows_read, self._top_problem(st, reason_cols))
            raise IngestError(msg, hint=hint)
        chosen = set(self.chosen)
        has_amount = "amount" in chosen or "amount" in self.exprs or {
            "quantity", "unit_price"} <= chosen
        order_cols = ["id", "customer_id", "ordered_at"] + (
            ["amount"] if has_amount else []) + (["quantity"] if "quantity" in chosen else [])
        self.step("writing")
        ingest_id = store.next_numbers(f"{INGESTS}_seq", 1)[0]
        good = st.filter(~bad)
        # each table merged by key as an ordinary ingest merges it (ids, then documents
        # and lines), staged; the rejects are the lines'
        self.contract, self.names = ORDERS, order_cols
        orders_path, orders, _c, _a = self._merge(self._orders(good), ingest_id)
        ln = self._view(self._materialise(self._lines(good), "lines"))
        self.contract, self.names = ORDER_LINES, list(ORDER_LINES.names)
        lines_path, lines, _c, _a = self._merge(ln, ingest_id)
        self.contract, self.names = ORDERS, _NAMES
        rejects_path, n_rejected = None, 0
        if n_bad or src.structural_rejects:
            rejects_path, n_rejected = self._rejects(st, raw, None, ingest_id)
        n_returns, n_linked, refunded = ln.aggregate(
            r=(ln.status == "returned").cast("int64").sum(),
            k=ln._linked.cast("int64").sum(),
            a=ln.amount.sum(where=ln.status == "returned")).to_pyarrow().to_pylist()[0].values()
        n_returns, n_linked = int(n_returns or 0), int(n_linked or 0)
        rejects_file = (str(store.rejects_dir / f"ingest-{ingest_id}-orders.csv")
                        if n_rejected else None)
        options = {"lines": True, "mapping": self.chosen, "expressions": self.exprs,
                   "return_prefix": self.return_prefix,
                   "date_format": list(self.opts.date_format), "delimiter": src.delimiter,
                   "encoding": src.encoding,
                   "order_lines": {k: int(v) for k, v in lines.items()},
                   "returns": n_returns, "returns_linked": n_linked}
        log_path = self._log_row(ingest_id, rows_read, orders, n_rejected, options,
                                 rejects_file)
        self._put_in_place({ORDERS.name: orders_path, ORDER_LINES.name: lines_path},
                           rejects_path, log_path)
        codes = _write_rejects_file(store, ingest_id, Path(rejects_file)) \
            if rejects_file else {}
        n_lines = sum(lines.values())
        notes = [*self.notes, *lines_notes(lines, orders, n_returns, n_linked, refunded)]
        return IngestResult(
            ingest_id=ingest_id, table="orders", source=src.label, rows_read=rows_read,
            inserted=orders["inserted"], updated=orders["updated"],
            unchanged=orders["unchanged"], rejected=n_rejected, rejects_file=rejects_file,
            ignored_columns=self.ignored, notes=notes,
            seconds=time.perf_counter() - self.started, reject_codes=codes,
            lines={"read": rows_read, "stored": n_lines, "returns": n_returns,
                   "returns_linked": n_linked,
                   **{f"lines_{k}": int(v) for k, v in lines.items()}})
