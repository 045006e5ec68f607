"""Count the DuckDB-specific calls in the package, outside the engine adapter (the
package ``store/engine/``: its ``__init__`` and the modules beside it, its DuckDB side
``store/engine/duckdb/`` and its Spark side ``store/engine/spark/``, whose ``.sql()`` is
Spark's): the work left before every operation runs on Spark (issue 17).

The count reached 0 by regrouping, not by new engine-neutral code: the modules of the
DuckDB ingest (ingest, readers, lines, quarantine, parsing: 103 calls) moved from
``store/`` into ``store/engine/duckdb/`` unchanged, and the Spark store's modules (store,
contract, ingest, models) into ``store/engine/spark/`` beside them. A raw export is still
read and staged by DuckDB on either engine; the count says where engine-specific code
lives, not how much of it there is.

A call counts when it can only run on a DuckDB connection:

- ``x.execute(...)`` or ``x.sql(...)`` with arguments (SQL text; ``expr.execute()``
  without arguments is Ibis, engine-neutral, and does not count; nor does
  ``tree.sql(dialect=...)``, sqlglot writing a compiled expression as text);
- ``x.register(name, data)``, ``x.unregister(...)``, ``x.fetchall()``, ``x.fetchone()``,
  ``x.df()``, ``x.fetch_arrow_table()``, ``x.to_arrow_table()``, ``x.cursor()``;
- anything called on the ``duckdb`` module or on ``ibis.duckdb``;
- reading ``store.raw`` (the DuckDB connection) outside the store.

Usage: ``python bench/duckdb_calls.py [--by-function]``. Prints one line per file and the
totals inside and outside ``store/``.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "loyalist"
#: the engine adapter: every module of this package, its DuckDB side (``duckdb/``) too
ADAPTER = "store/engine/"
#: the Spark store (inside the adapter): its ``.sql(...)`` is ``SparkSession.sql`` (Spark
#: SQL compiled by Ibis), not DuckDB
SPARK = "store/engine/spark/"
WITH_ARGS = {"execute", "sql", "executemany"}
ALWAYS = {"unregister", "fetchall", "fetchone", "df", "fetch_arrow_table",
          "to_arrow_table", "cursor", "fetchdf"}


def _root(node) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _chain(node) -> list[str]:
    out = []
    while isinstance(node, ast.Attribute):
        out.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        out.append(node.id)
    return out[::-1]


def calls(tree: ast.AST, in_store: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, chain = node.func.attr, _chain(node.func)
            if chain[:1] == ["duckdb"] or chain[:2] == ["ibis", "duckdb"]:
                found.append((node.lineno, ".".join(chain)))
            elif attr in WITH_ARGS and (node.args or node.keywords) and not (
                    attr in ("execute", "sql") and not node.args and all(
                        k.arg == ("params" if attr == "execute" else "dialect")
                        for k in node.keywords)):
                found.append((node.lineno, attr))
            elif attr in ALWAYS or (attr == "register" and len(node.args) == 2):
                found.append((node.lineno, attr))
        elif (isinstance(node, ast.Attribute) and node.attr == "raw" and not in_store
              and isinstance(node.ctx, ast.Load)):
            found.append((node.lineno, "store.raw"))
    return found


def main(argv: list[str]) -> int:
    per_file: Counter = Counter()
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith(ADAPTER) or rel.startswith(SPARK):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = calls(tree, rel.startswith("store/"))
        if found:
            per_file[rel] = len(found)
            if "--by-function" in argv:
                for line, what in found:
                    print(f"  {rel}:{line} {what}")
    inside = sum(n for f, n in per_file.items() if f.startswith("store/"))
    outside = sum(n for f, n in per_file.items() if not f.startswith("store/"))
    for f, n in sorted(per_file.items(), key=lambda kv: -kv[1]):
        print(f"{n:5d}  {f}")
    print(f"DuckDB-specific calls outside the adapter ({ADAPTER}): {inside + outside} "
          f"({inside} in store/, {outside} elsewhere)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
