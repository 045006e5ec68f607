"""Ingesting a raw export into a Spark store, by the DuckDB store's rules.

The file is read on the driver by the same readers (line numbers, structural rejects,
day/month order settled from the column's own values) and handed to Spark as raw
columns. Everything over its rows then runs in Spark through the Ibis expressions of
:mod:`loyalist.store.ingest.checks` (the parse and check of every value, the content keys and
duplicate ids) and of the merge below; rejected rows land in the rejects table with
their line, column, reason code, reason words, value and whole raw row.

All or nothing: the new version of the table, the rejected rows and the ingest log's
row are written to the staging area first and put in place only when all are written
(renames). Re-ingesting a file changes nothing: each row's key is its id or the hash of
its natural key and occurrence, as on DuckDB.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loyalist.contract.schema import get_table
from loyalist.errors import IngestError
from loyalist.store.engine import SPARK_TYPES, read_export
from loyalist.store.engine.duckdb.ingest import settle_dates, unknown_note
from loyalist.store.engine.duckdb.parsing import infer_attribute_type
from loyalist.store.engine.duckdb.quarantine import diagnosis
from loyalist.store.engine.spark.contract import META
from loyalist.store.ingest import checks
from loyalist.store.ingest.mapping import likely_notes, parse_mapping, resolve
from loyalist.store.ingest.rules import IngestResult
from loyalist.store.migrations import INGESTS, REJECTS

#: the rejects table's columns and Spark types (as the DuckDB store's)
REJECT_TYPES = {"ingest_id": "bigint", "table_name": "string", "source": "string",
                "line": "bigint", "column": "string", "code": "string",
                "reason": "string", "value": "string", "raw": "string"}
INGEST_TYPES = {"id": pa.int64(), "table_name": pa.string(), "source": pa.string(),
                "format": pa.string(), "started_at": pa.timestamp("us"),
                "finished_at": pa.timestamp("us"), "rows_read": pa.int64(),
                "inserted": pa.int64(), "updated": pa.int64(), "unchanged": pa.int64(),
                "rejected": pa.int64(), "options": pa.string(), "rejects_file": pa.string(),
                "undone_at": pa.timestamp("us"), "undone_by": pa.string()}
#: stored attribute types: the DuckDB store's names and the Spark store's
_DUCK_TO_CONTRACT = {"VARCHAR": "string", "BIGINT": "integer", "INTEGER": "integer",
                     "DOUBLE": "float", "FLOAT": "float", "TIMESTAMP": "timestamp",
                     "DATE": "timestamp", "BOOLEAN": "boolean"}
_CONTRACT_TO_DUCK = {"string": "VARCHAR", "integer": "BIGINT", "float": "DOUBLE",
                     "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}


def ingest(store, table: str, source, mapping=None, *, strict: bool = False,
           header: bool = True, names=None, delimiter=None, encoding=None,
           date_format=None, decimal: str = ".", sheet=None, format=None, progress=None,
           lines: bool = False, return_prefix=None, append: bool = False,
           label: str | None = None) -> IngestResult:
    """Ingest ``source`` into contract table ``table`` of the Spark store ``store`` (the
    arguments of :meth:`loyalist.store.Store.ingest`). With ``append``: rows made by
    code, no quarantine: a row that breaks a rule or whose id is stored is an error and
    nothing is written (:meth:`Store.append`)."""
    store._writable("ingest")
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    contract = get_table(table)
    if lines:
        from loyalist.store.engine.spark.lines import ingest_lines

        return ingest_lines(store, source, mapping, format=format, header=header,
                            names=names, delimiter=delimiter, encoding=encoding,
                            sheet=sheet, date_format=date_format, decimal=decimal,
                            return_prefix=return_prefix, step=step, started=started)
    mapping = parse_mapping(mapping)
    opts = checks.ingest_options(date_format, decimal)
    step("reading")
    con, src, rows = read_export(source, fmt=format, header=header, names=names,
                                 delimiter=delimiter, encoding=encoding, sheet=sheet)
    if label is not None:
        src.label, src.format = label, "rows"
    try:
        chosen, attr_sources, ignored = resolve(contract, src.columns, mapping)
        notes = settle_dates(con, contract, src, chosen, opts)
        notes += likely_notes(contract, chosen, ignored)
        stored = store.attributes(contract.name)
        attr_types = {a: _CONTRACT_TO_DUCK[stored[a]] if a in stored else
                      infer_attribute_type(con, src.name, s, src.types[s])
                      for a, s in attr_sources.items()}
    finally:
        con.close()
        for tmp in src.cleanup:
            Path(tmp).unlink(missing_ok=True)
    return _Ingest(store, contract, src, rows, chosen, attr_sources, attr_types, ignored,
                   notes, opts, strict, step, started, append).run()


class _Ingest:
    def __init__(self, store, contract, src, rows, chosen, attr_sources, attr_types,
                 ignored, notes, opts, strict, step, started, append):
        self.store, self.contract, self.src = store, contract, src
        self.chosen, self.attr_sources, self.attr_types = chosen, attr_sources, attr_types
        self.ignored, self.notes, self.opts, self.strict = ignored, notes, opts, strict
        self.step, self.started, self.append = step, started, append
        self.names = [c.name for c in contract.columns if c.name in chosen] + list(attr_sources)
        self.staged: list[Path] = []
        self._replaced: list[tuple[Path, Path]] = []
        self.raw_df = self._spark_frame(rows, "raw")

    # -- helpers ------------------------------------------------------------------
    def _spark_frame(self, rows: pa.Table, what: str):
        """Arrow rows as a Spark DataFrame, through a Parquet file in the staging area
        (Spark keeps Arrow's types)."""
        path = self._staging(f"{what}.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, str(path))
        return self.store.spark.read.parquet(str(path))

    def _staging(self, what: str) -> Path:
        path = self.store.warehouse / "_staging" / f"ingest-{uuid.uuid4().hex}-{what}"
        self.staged.append(path)
        return path

    def _view(self, df):
        """An Ibis table over Spark DataFrame ``df`` (a temporary view)."""
        name = f"{self.store._prefix}ingest_{uuid.uuid4().hex[:8]}"
        df.createOrReplaceTempView(name)
        self._views.append(name)
        return self.store.ibis.table(name)

    def _materialise(self, expr, what: str):
        """``expr`` computed by Spark into a staged Parquet folder, read back."""
        path = self._staging(what)
        self.store.to_spark(expr).write.parquet(str(path))
        return self.store.spark.read.parquet(str(path))

    def _count(self, expr) -> int:
        return int(expr.count().to_pyarrow().as_py())

    # -- the ingest -----------------------------------------------------------------
    def run(self) -> IngestResult:
        self._views: list[str] = []
        try:
            return self._run()
        finally:
            for v in self._views:
                self.store.spark.catalog.dropTempView(v)
            for path in self.staged:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def _run(self) -> IngestResult:
        store, contract, src = self.store, self.contract, self.src
        raw = self._view(self.raw_df)
        self.step("checking")
        known = store.table("customers") if self.strict else None
        stage = checks.staged(raw, contract, self.chosen, src.types, self.attr_sources,
                              self.attr_types, self.opts, self.strict, known)
        stage = checks.mark_duplicates(checks.content_keys(stage, contract, self.chosen,
                                                           self.names), self.names)
        st = self._view(self._materialise(stage, "stage"))
        reason_cols, bad, n_rows, n_bad, rows_read = self._counted(st)
        if self.append and (n_bad or src.structural_rejects):
            raise IngestError(self._refused(st), hint="Nothing was written; check the row.")
        if n_rows - n_bad == 0:
            msg, hint = diagnosis(src, rows_read, self._top_problem(st, reason_cols))
            raise IngestError(msg, hint=hint)
        if not self.strict and "customer_id" in self.chosen and contract.name != "customers":
            self.notes.extend(self._unknown_customers(st, bad))
        self.step("writing")
        ingest_id = store.next_numbers(f"{INGESTS}_seq", 1)[0]
        good = st.filter(st._key.notnull() & st._r__key.isnull())
        table_path, counts, conflicts, attributes = self._merge(good, ingest_id)
        if self.append and (counts["inserted"] != n_rows):
            raise IngestError(f"A row's id is already in {contract.name}.",
                              hint="Nothing was written; check the row.")
        rejects_path, n_rejected = None, 0
        if n_bad or conflicts is not None or src.structural_rejects:
            rejects_path, n_rejected = self._rejects(st, raw, conflicts, ingest_id)
        rejects_file = (str(store.rejects_dir / f"ingest-{ingest_id}-{contract.name}.csv")
                        if n_rejected else None)
        options = ({"appended": True} if self.append else
                   {"mapping": self.chosen, "attributes": self.attr_sources,
                    "date_format": list(self.opts.date_format),
                    "delimiter": src.delimiter, "encoding": src.encoding})
        log_path = self._log_row(ingest_id, rows_read, counts, n_rejected, options,
                                 rejects_file)
        # everything is written: put it in place
        if attributes is not None:
            all_attrs = store._read_json("_loyalist_attributes.json")
            all_attrs[contract.name] = attributes
            store._write_json("_loyalist_attributes.json", all_attrs)
        self._put_in_place({contract.name: table_path}, rejects_path, log_path)
        codes = {}
        if rejects_file:
            codes = _write_rejects_file(store, ingest_id, Path(rejects_file))
        return IngestResult(
            ingest_id=ingest_id, table=contract.name, source=src.label, rows_read=rows_read,
            inserted=counts["inserted"], updated=counts["updated"],
            unchanged=counts["unchanged"], rejected=n_rejected, rejects_file=rejects_file,
            ignored_columns=self.ignored, attributes_added=self.added, notes=self.notes,
            seconds=time.perf_counter() - self.started, reject_codes=codes)

    def _counted(self, st):
        """The stage's reason columns, its bad rows (an expression), and the counts of
        rows, bad rows and rows read (an IngestError when the source has none)."""
        reason_cols = [checks.reason_name(n) for n in self.names] + ["_r__key"]
        bad = ibis.or_(*[st[r].notnull() for r in reason_cols])
        counts = st.aggregate(n=st.count(), bad=bad.cast("int64").sum()).to_pyarrow()
        n_rows, n_bad = counts["n"][0].as_py(), counts["bad"][0].as_py() or 0
        rows_read = n_rows + len(self.src.structural_rejects)
        if rows_read == 0:
            raise IngestError(f"{self.src.label} has no data rows.",
                              hint="Check that the export wrote any rows (and --no-header if "
                              "the file has no header line).")
        return reason_cols, bad, n_rows, n_bad, rows_read

    def _put_in_place(self, tables: dict, rejects_path, log_path) -> None:
        """Once everything is staged: each table's new version (``{name: path}``, None
        when it did not change) in place, then the rejected rows, the versions replaced
        and the log's row appended."""
        store = self.store
        for name, path in tables.items():
            if path is not None:
                store._swap(name, path)
        if rejects_path is not None:
            _move_parts(rejects_path, store._dir(REJECTS))
        for staged, folder in self._replaced:
            _move_parts(staged, folder)
        _move_parts(log_path, store._dir(INGESTS))
        store._forget(*tables)

    def _top_problem(self, st, reason_cols):
        parts = []
        for n, r in zip([*self.names, "id"], reason_cols, strict=True):
            parts.append(st.filter(st[r].notnull()).select(
                col=ibis.literal(n), reason=st[r].substr(st[r].find("|") + 1)))
        u = ibis.union(*parts)
        top = (u.group_by(["col", "reason"]).aggregate(n=u.count())
               .order_by([ibis.desc("n"), "col", "reason"]).limit(1).to_pyarrow().to_pylist())
        return tuple(top[0].values()) if top else None

    def _refused(self, st) -> str:
        """Why a row could not be appended: the first rule it breaks."""
        parts = [st.filter(st[checks.reason_name(n)].notnull()).select(
            _line=st._line, col=ibis.literal(n), reason=st[checks.reason_name(n)])
            for n in self.names]
        first = (ibis.union(*parts).order_by(["_line", "col"]).limit(1).to_pyarrow()
                 .to_pylist())
        if not first:
            return f"A row of the data frame cannot be added to {self.contract.name}."
        line, col, reason = first[0].values()
        return (f"Row {line} cannot be added to {self.contract.name}: {col}: "
                f"{reason.split('|', 1)[-1]}.")

    def _unknown_customers(self, st, bad) -> list[str]:
        customers = self.store.table("customers")
        if not self._count(customers.limit(1)):
            return []
        rows = st.filter(~bad & st.customer_id.notnull())
        rows = rows.anti_join(customers, rows.customer_id == customers.id)
        n, count, example = rows.aggregate(n=rows.customer_id.nunique(), rows=rows.count(),
                                           example=rows.customer_id.min()
                                           ).to_pyarrow().to_pylist()[0].values()
        return unknown_note(n, count, example)

    def _merge(self, good, ingest_id: int):
        """The table's new version staged (None when nothing changes), the counts, the
        append-only conflicts (an expression of their lines, or None) and the table's
        attributes when new ones were added (else None)."""
        store, contract = self.store, self.contract
        have = store.attributes(contract.name)
        added = {a: _DUCK_TO_CONTRACT.get(self.attr_types[a].upper(), "string")
                 for a in self.attr_sources if a not in have}
        self.added = {a: self.attr_types[a] for a in added}
        types = {c.name: c.type for c in contract.columns}
        types.update(META)
        types.update(have)
        types.update(added)
        old = store.table(contract.name, meta=True)
        old = old.mutate(**{a: ibis.null(checks.STORED[_CONTRACT_TO_DUCK[t]])
                            for a, t in added.items()})
        t = old.rename({f"t__{c}": c for c in old.columns})
        total = self._count(good)
        j = good.inner_join(t, good._key == t.t___key)
        changed = ibis.or_(*[~good[n].identical_to(t[f"t__{n}"]) for n in self.names])
        hits = j.filter(changed)
        conflicts, n_conflicts, n_updated = None, 0, 0
        if contract.append_only:
            n_conflicts = self._count(hits)
            conflicts = hits.select(_line=hits._line) if n_conflicts else None
            keep, updated = old, None
        else:
            n_updated = self._count(hits)
            updated = hits.select(**{
                c: (hits[c] if c in self.names else hits[f"t__{c}"])
                for c in old.columns if c not in ("_ingest_id", "_line")},
                _ingest_id=ibis.literal(ingest_id, "int64"), _line=hits._line)
            keep = old.anti_join(hits.select(k=hits._key), old._key == hits.select(
                k=hits._key).k) if n_updated else old
        new = good.anti_join(old, good._key == old._key)
        n_inserted = self._count(new)
        counts = {"inserted": n_inserted, "updated": n_updated,
                  "unchanged": total - n_inserted - n_updated - n_conflicts}
        if not n_inserted and not n_updated and not added:
            return None, counts, conflicts, None
        inserted = new.select(**{
            c: (new[c] if c in self.names or c == "_key" else
                ibis.null(checks.STORED[_CONTRACT_TO_DUCK.get(types[c], "VARCHAR")]
                          if c not in META else "string"))
            for c in old.columns if c not in ("_ingest_id", "_line")},
            _ingest_id=ibis.literal(ingest_id, "int64"), _line=new._line)
        parts = [keep.select(*inserted.columns), inserted]
        if updated is not None and n_updated:
            parts.append(updated.select(*inserted.columns))
        whole = ibis.union(*parts)
        if n_updated:
            self._keep_replaced(hits, old, ingest_id)
        from pyspark.sql import functions as F

        df = store.to_spark(whole).select(*[
            F.col(f"`{c}`").cast(SPARK_TYPES[types[c]]).alias(c) for c in types])
        path = self._staging(contract.name)
        df.write.parquet(str(path))
        return path, counts, conflicts, ({**have, **added} if added else None)

    def _keep_replaced(self, hits, old, ingest_id):
        """The versions about to be replaced, kept (``_loyalist_replaced_<table>``) so
        an undo can put them back; staged with the rest."""
        from loyalist.store.engine.duckdb.ingest import replaced_table

        rows = hits.select(**{c: hits[f"t__{c}"] for c in old.columns},
                           _replaced_by=ibis.literal(ingest_id, "int64"))
        path = self._staging("replaced")
        self.store.to_spark(rows).write.parquet(str(path))
        self._replaced.append((path, self.store._dir(replaced_table(self.contract.name))))

    def _rejects(self, st, raw, conflicts, ingest_id: int):
        """The rejected rows staged (one per bad value) and the rejected lines' count."""
        from pyspark.sql import functions as F

        parts = [st.filter(st[checks.reason_name(n)].notnull()).select(
            line=st._line, col=ibis.literal(n), why=st[checks.reason_name(n)])
            for n in self.names]
        parts.append(st.filter(st._r__key.notnull()).select(
            line=st._line, col=ibis.literal("id"), why=st._r__key))
        if conflicts is not None:
            reason = checks.why("append_only", "touches are append-only: this id is already "
                                "recorded with other content")
            parts.append(conflicts.select(line=conflicts._line, col=ibis.literal("id"),
                                          why=reason))
        b = ibis.union(*parts)
        sources = {**self.chosen, **self.attr_sources}
        value = (ibis.cases(*[(b.col == n, raw[s].cast("string")) for n, s in sources.items()],
                            else_=ibis.null("string")) if sources else ibis.null("string"))
        rows = b.inner_join(raw, b.line == raw._line).select(
            line=b.line, column=b.col, code=b.why.substr(0, b.why.find("|")),
            reason=b.why.substr(b.why.find("|") + 1), value=value,
            **{f"r__{i}": raw[c].cast("string") for i, c in enumerate(self.src.columns)})
        df = self.store.to_spark(rows)
        raw_json = F.to_json(F.struct(*[F.col(f"r__{i}").alias(c)
                                        for i, c in enumerate(self.src.columns)]),
                             {"ignoreNullFields": "false"})
        df = df.select(F.lit(ingest_id).cast("bigint").alias("ingest_id"),
                       F.lit(self.contract.name).alias("table_name"),
                       F.lit(self.src.label).alias("source"),
                       F.col("line").cast("bigint").alias("line"), "column", "code",
                       "reason", "value", raw_json.alias("raw"))
        if self.src.structural_rejects:
            extra = pd.DataFrame([{
                "ingest_id": ingest_id, "table_name": self.contract.name,
                "source": self.src.label, "line": line, "column": None,
                "code": "malformed_line", "reason": reason, "value": None,
                "raw": json.dumps(text)} for line, reason, text in self.src.structural_rejects])
            schema = ", ".join(f"`{c}` {t}" for c, t in REJECT_TYPES.items())
            df = df.unionByName(self.store.spark.createDataFrame(extra, schema))
        path = self._staging("rejects")
        df.write.parquet(str(path))
        n = self.store.spark.read.parquet(str(path)).select("line").distinct().count()
        return path, n

    def _log_row(self, ingest_id, rows_read, counts, rejected, options, rejects_file):
        now = pd.Timestamp.now("UTC").tz_localize(None)
        row = {"id": ingest_id, "table_name": self.contract.name, "source": self.src.label,
               "format": self.src.format,
               "started_at": now - pd.Timedelta(seconds=time.perf_counter() - self.started),
               "finished_at": now, "rows_read": rows_read, **counts, "rejected": rejected,
               "options": json.dumps(options), "rejects_file": rejects_file,
               "undone_at": None, "undone_by": None}
        table = pa.table({c: pa.array([row[c]], t) for c, t in INGEST_TYPES.items()})
        path = self._staging("log")
        path.mkdir(parents=True)
        pq.write_table(table, str(path / f"part-{uuid.uuid4().hex}.parquet"))
        return path


def _move_parts(staged: Path, folder: Path) -> None:
    """Each Parquet file of ``staged`` into ``folder`` by a rename (appended whole)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in staged.iterdir():
        if part.suffix == ".parquet":
            os.replace(part, folder / f"{uuid.uuid4().hex[:8]}-{part.name}")
    shutil.rmtree(staged, ignore_errors=True)


def read_log(store, name: str):
    """The rejects table (``REJECTS``) or the ingest log (``INGESTS``) as pandas."""
    folder = store._dir(name)
    if not folder.is_dir():
        cols = REJECT_TYPES if name == REJECTS else INGEST_TYPES
        return pd.DataFrame(columns=list(cols))
    return pq.read_table(str(folder)).to_pandas()


def _write_rejects_file(store, ingest_id: int, path: Path) -> dict[str, int]:
    """The ingest's rejected rows as a CSV file; their count per reason code."""
    rejects = read_log(store, REJECTS)
    mine = rejects[rejects["ingest_id"] == ingest_id].sort_values(["line", "column"])
    path.parent.mkdir(parents=True, exist_ok=True)
    mine[["source", "line", "column", "code", "reason", "value", "raw"]].to_csv(path,
                                                                              index=False)
    codes = (mine.assign(code=mine["code"].fillna("other")).groupby("code")["line"]
             .nunique().reset_index().sort_values(["line", "code"], ascending=[False, True]))
    return dict(zip(codes["code"], codes["line"].astype(int), strict=True))
