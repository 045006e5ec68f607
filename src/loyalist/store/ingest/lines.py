"""What an export of order lines means on every engine: the columns a line may carry,
the mapping expressions (``--map amount=Quantity*UnitPrice``) and how they are read.

Each engine's staging and merge of the lines is in its adapter
(:mod:`loyalist.store.engine.duckdb.lines`, :mod:`loyalist.store.engine.spark.lines`);
both build an expression from the same checked tree (:func:`walk_expression`), never
from its text.
"""

from __future__ import annotations

import ast

from loyalist.contract.schema import Column, Table
from loyalist.errors import MappingError

#: what a line of an order export may carry (the names ``--map`` takes with --lines)
SOURCE = Table(
    "orders",
    "An export with one row per order line.",
    (
        Column("id", "string", "The order's (or the return's) document id.", required=True),
        Column("customer_id", "string", "The customer.", required=True),
        Column("ordered_at", "timestamp", "When the order (or return) was made.",
               required=True),
        Column("product", "string", "Product code or name."),
        Column("quantity", "float", "Items on the line; negative for a return."),
        Column("unit_price", "float", "Price of one item."),
        Column("amount", "float", "Value of the line; or an expression of columns, "
               "e.g. Quantity*UnitPrice."),
        Column("line", "integer", "Line number within the document.", min=1),
    ),
    natural_key=("id", "line"),
)
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_HINT = ('Write e.g. --map amount=Quantity*UnitPrice (a column whose name has spaces '
         'in quotes: --map \'amount="Unit Price"*Quantity\').')


def split_expressions(mapping: dict[str, str], columns: list[str]) -> tuple[dict, dict]:
    """The mapping without its expressions, and the expressions (``amount=Qty*Price``):
    a numeric target whose source is not a column of the file but has an operator."""
    plain, exprs = {}, {}
    for target, source in mapping.items():
        numeric = target in SOURCE.names and SOURCE.column(target).type == "float"
        if numeric and source not in columns and any(op in source for op in "+-*/()"):
            exprs[target] = source
        else:
            plain[target] = source
    return plain, exprs


def walk_expression(text: str, columns: list[str], number_of, combine):
    """A mapping expression built bottom-up, and the columns it reads. Only column names
    (bare, or quoted when they have spaces), numbers and + - * / with brackets are
    allowed (else a MappingError saying so); ``number_of(column)`` gives a column's
    parsed number and ``combine(op, *args)`` the rest: ``op`` is ``+ - * /`` (two
    arguments), ``neg`` (one) or ``num`` (a float)."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise MappingError(f"Cannot read the expression {text!r}.", hint=_HINT) from None
    used: list[str] = []

    def build(node):
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return combine(_OPS[type(node.op)], build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = build(node.operand)
            return combine("neg", inner) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
                and not isinstance(node.value, bool):
            return combine("num", float(node.value))
        name = node.id if isinstance(node, ast.Name) else (
            node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
            else None)
        if name is None:
            raise MappingError(f"The expression {text!r} may only use columns, numbers and "
                               "+ - * /.", hint=_HINT)
        if name not in columns:
            raise MappingError(f"The expression {text!r} names {name!r}, not a column of "
                               "the file.", hint=f"Its columns are: {', '.join(columns)}.")
        used.append(name)
        return number_of(name)

    return build(tree), used


def lines_notes(lines: dict, orders: dict, returns: int, linked: int, refunded) -> list[str]:
    """What an ingest of order lines says about them: the lines stored and the orders
    they make (``lines``, ``orders``: the merge's counts), and the returns."""
    notes = [f"{sum(lines.values()):,} order lines stored ({lines['inserted']:,} new), "
             f"grouped into {sum(orders.values()):,} orders"]
    if returns:
        notes.append(f"{returns:,} returned or cancelled lines ({refunded or 0:,.2f} "
                     f"refunded) stored with status returned; {linked:,} linked to the "
                     f"order they return, {returns - linked:,} to an order not in the data")
    return notes
