"""No SQL text from user input: SQL is written only in the store, only in reviewed
functions, and never with ``%`` or ``.format``.

Outside ``store/`` there is no SQL text at all: the other layers build Ibis expressions
or call the store's methods. Inside ``store/``, an f-string holding SQL may only sit in
one of the functions listed in ``REVIEWED``: each was read to check that every value it
puts into the text goes through :func:`loyalist.store.sql.q` (identifiers) or
:func:`loyalist.store.sql.lit` (literals), or is bound as a parameter. A new function
that builds SQL fails this test until it is reviewed and added here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import loyalist

PKG = Path(loyalist.__file__).parent
SQL = re.compile(r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\S+\s+(AS\s+\S+\s+)?SET\s|"
                 r"DELETE\s+FROM|CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+|TEMPORARY\s+)?"
                 r"(TABLE|VIEW|SEQUENCE|INDEX)|ALTER\s+TABLE|DROP\s+(TABLE|VIEW)|COPY\s*\(|"
                 r"ATTACH\s|PRAGMA\s|DESCRIBE\s|try_strptime\(|regexp_\w+\()")

#: SQL words of a fragment (an expression put into a larger statement elsewhere)
FRAGMENT = re.compile(r"\b(NULLIF|CAST|CASE|WHEN|IS (NOT )?NULL|COALESCE|AND|OR|FROM|WHERE)\b"
                      r"|[-+*/] *$|^ *[-+*/]")

#: store module -> functions whose f-strings build SQL, each reviewed: names go through
#: q(), text through lit(), values are bound (?), numbers come from int()/len()
REVIEWED = {
    "store/engine/duckdb/ingest.py": {
        "keep_replaced", "run_ingest", "_ingest", "_unknown_customers", "_stage",
        "_assign_keys", "_add_attributes", "_merge", "_attribute_types", "append_rows",
        "_refused", "_bound_rows", "next_ingest_id", "log_ingest"},
    "store/engine/duckdb/quarantine.py": {"_raw_struct", "store_rejects",
                                          "write_rejects_file", "reject_codes", "diagnose"},
    "store/engine/duckdb/parsing.py": {"text", "settle_date_order", "infer_attribute_type"},
    "store/engine/duckdb/lines.py": {"expression_sql", "ingest_lines", "_stage_lines",
                                     "_orders_stage", "_lines_stage", "parsed"},
    "store/engine/duckdb/readers.py": {"_describe", "_rename", "_read_frame", "_read_csv",
                                       "_read_whitespace", "_read_parquet", "_read_json",
                                       "_read_excel"},
    "store/engine/__init__.py": {"append_rows", "read_export", "_naming",
                                 "quarantined_naming", "erase_value", "_rewrite_rejects_file",
                                 "registered_derived", "put_derived"},
    "store/engine/keyed.py": {"select_rows", "insert_row", "delete_rows", "upsert_row"},
    "store/engine/duckdb/schema.py": {"fit_customer_index", "_v1", "_v2", "_v3", "_v4", "_v8", "_v9", "_v10",
                                      "_v12", "_v13", "current_version", "migrate",
                                      "sync_contract", "index_by_customer"},
    "store/engine/batches.py": {"later_changes", "take_out_batch", "_take_out",
                                "stale_derived", "ingest_entry", "copy_store"},
    "store/engine/duckdb/survey.py": {"<module>", "quarantine_bad_answers"},
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _text(node) -> str:
    """The literal parts of a string constant or f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return ""


def _functions(tree: ast.AST) -> dict[int, str]:
    """id(node) -> name of the innermost function holding it."""
    owner: dict[int, str] = {}

    def visit(node, name):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) \
                else name
            owner[id(child)] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return owner


def _findings():
    outside, unreviewed, formatted, building = [], [], [], set()
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        owner = _functions(tree)
        parents = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        for node in ast.walk(tree):
            if id(node) in docs or not isinstance(node, ast.Constant | ast.JoinedStr):
                continue
            # the literal pieces inside an f-string are checked as the f-string
            if isinstance(parents.get(id(node)), ast.JoinedStr):
                continue
            text = _text(node)
            if not SQL.search(text):
                continue
            where = f"{rel}:{node.lineno} ({owner.get(id(node), '<module>')})"
            parent = parents.get(id(node))
            if (isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mod)) or (
                    isinstance(parent, ast.Attribute) and parent.attr == "format"):
                formatted.append(where)
            if not rel.startswith("store/"):
                outside.append(where)
            elif isinstance(node, ast.JoinedStr) and owner.get(id(node)) not in REVIEWED.get(
                    rel, set()):
                unreviewed.append(where)
        if rel.startswith("store/"):  # fragments too (in nested functions as well)
            for fn in [tree, *(n for n in ast.walk(tree)
                               if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]:
                if any(_builds(n) for n in ast.walk(fn)):
                    building.add((rel, getattr(fn, "name", "<module>")))
    _findings.building = building
    return outside, unreviewed, formatted


def _builds(node) -> bool:
    """An f-string of SQL or of SQL words, or a name or text put in with q() or lit()."""
    if isinstance(node, ast.JoinedStr):
        return bool(SQL.search(_text(node)) or FRAGMENT.search(_text(node)))
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("q", "lit"))


def _stale():
    """Entries of ``REVIEWED`` naming a function that no longer builds SQL (no f-string of
    SQL, no name or text put in with q() or lit()), or is gone."""
    _findings()
    return sorted(f"{rel}: {fn}" for rel, fns in REVIEWED.items() for fn in fns
                  if (rel, fn) not in _findings.building)


def test_no_sql_text_outside_the_store():
    outside, _, _ = _findings()
    assert not outside, "SQL text outside store/ (use Ibis or a store method): " + "; ".join(
        outside)


def test_sql_built_in_the_store_only_in_reviewed_functions():
    _, unreviewed, _ = _findings()
    assert not unreviewed, ("f-strings building SQL in functions not reviewed (check that "
                            "every value is bound or quoted with q()/lit(), then add the "
                            "function to REVIEWED): " + "; ".join(unreviewed))


def test_the_reviewed_list_names_only_functions_that_build_sql():
    """A function that stopped building SQL leaves the list, so the list stays a list of
    what was read (and a function of the same name that builds SQL later is read again)."""
    stale = _stale()
    assert not stale, "REVIEWED entries that build no SQL (remove them): " + "; ".join(stale)


def test_no_sql_built_with_percent_or_format():
    _, _, formatted = _findings()
    assert not formatted, formatted


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The scanner itself: an f-string with SQL outside the store is found."""
    probe = ast.parse('def f(x):\n    return con.execute(f"SELECT * FROM t WHERE a = {x}")\n')
    nodes = [n for n in ast.walk(probe) if isinstance(n, ast.JoinedStr)]
    assert nodes and SQL.search(_text(nodes[0]))
    assert not SQL.search(_text(ast.parse('"select the rows you want"').body[0].value))
    assert all(rel.startswith("store/") for rel in REVIEWED)
