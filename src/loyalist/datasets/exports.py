"""Messy export shapes of a synthetic business, as a real shop system writes them.

:func:`export_lines` writes the business's orders the way a point-of-sale or web-shop
export does: one row per order line (product, quantity, unit price), invoice numbers
and customer ids written as numbers (``17850.0``), dates month-first, cancellations and
returns as separate documents whose number starts with ``C`` and whose quantities are
negative, and no customers table at all. Its truth says what each order was worth and
what came back, so a reader of the export can be checked to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from loyalist.errors import DataError

#: the column names of the export (those of a well-known retailer's)
COLUMNS = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
#: the mapping that reads it: ``loyalist ingest orders FILE --lines --map ...``
MAPPING = ("id=InvoiceNo,customer_id=CustomerID,ordered_at=InvoiceDate,product=StockCode,"
           "quantity=Quantity,unit_price=UnitPrice,amount=Quantity*UnitPrice")
RETURN_PREFIX = "C"


@dataclass(frozen=True)
class LinesExport:
    """What :func:`export_lines` wrote.

    Attributes
    ----------
    path : Path
        The CSV file.
    lines : int
        Rows written (sale lines and return lines).
    orders : pandas.DataFrame
        One row per order: ``invoice`` (as the export writes it), ``customer`` (the id
        as a reader should store it: ``17850``, not ``17850.0``), ``customer_id`` (the
        business's own id), ``total`` (the sum of its sale lines: the order's amount),
        ``refunded`` (the value of its lines returned) and ``fully_returned``.
    """

    path: Path
    lines: int
    orders: pd.DataFrame


def export_lines(business, path, *, seed: int = 0, partial_returns: float = 0.03,
                 max_lines: int = 5, lines_per_order: float = 2.2) -> LinesExport:
    """Write ``business``'s orders as an order-lines export (see the module).

    Each order becomes 1 to ``max_lines`` lines (``lines_per_order`` on average before
    the cap) whose quantity times unit price add up to its amount to the cent. Orders the business marks returned or cancelled come
    back in full on a ``C`` document a few days later (before ``as_of``); a share
    ``partial_returns`` of the others have one line returned.
    """
    if max_lines < 1 or not 0 <= partial_returns <= 1 or lines_per_order < 1:
        raise DataError("export_lines: max_lines must be >= 1 and partial_returns in 0-1.",
                        hint="e.g. export_lines(b, 'lines.csv', max_lines=5).")
    rng = np.random.default_rng(seed)
    o = business.tables["orders"]
    n = len(o)
    cents = np.maximum(np.round(o["amount"].fillna(1.0).to_numpy() * 100).astype(np.int64), 1)
    k = np.minimum(1 + rng.poisson(lines_per_order - 1, n), max_lines)
    k = np.minimum(k, cents)  # every line is worth at least a cent
    order = np.repeat(np.arange(n), k)
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    weight = rng.uniform(0.2, 1.0, len(order))
    share = weight / np.bincount(order, weight)[order]
    part = 1 + np.floor(share * (cents - k)[order]).astype(np.int64)
    rest = cents - np.bincount(order, part, minlength=n).astype(np.int64)
    last = first + k - 1
    part[last] += rest
    qty = np.where(part % 3 == 0, 3, np.where(part % 2 == 0, 2, 1))
    price = part // qty
    product = rng.integers(10000, 99999, len(order))

    cid = o["customer_id"].astype(str).str[1:].astype(np.int64) + 10000
    invoice = (500000 + np.arange(1, n + 1)).astype(str)
    at = o["ordered_at"].to_numpy()
    status = o["status"].astype(str).to_numpy()
    full = np.isin(status, ("returned", "cancelled"))
    partial = ~full & (rng.random(n) < partial_returns) & (k > 1)
    back_line = first + rng.integers(0, np.maximum(k, 1))
    as_of = np.datetime64(business.as_of)
    back_at = at + (rng.uniform(1, 14, n) * 86400).astype("timedelta64[s]")
    back_at = np.minimum(back_at, as_of - np.timedelta64(3600, "s"))
    full &= back_at > at
    partial &= back_at > at
    returned_line = full[order] | (partial[order] & (np.arange(len(order)) == back_line[order]))

    def frame(rows, doc, when, sign):
        return pd.DataFrame({
            "InvoiceNo": doc[order[rows]], "StockCode": product[rows].astype(str),
            "Quantity": sign * qty[rows],
            "InvoiceDate": pd.to_datetime(when[order[rows]]).strftime("%m/%d/%Y %H:%M"),
            "UnitPrice": [f"{p / 100:.2f}" for p in price[rows]],
            "CustomerID": (cid.to_numpy()[order[rows]]).astype(float).astype(str)})

    sales = frame(np.arange(len(order)), invoice, at, 1)
    back = np.flatnonzero(returned_line)
    returns = frame(back, np.char.add(RETURN_PREFIX, invoice), back_at, -1)
    when = np.concatenate([at[order], back_at[order[back]]])
    out = pd.concat([sales, returns], ignore_index=True)[list(COLUMNS)]
    out = out.iloc[np.argsort(when, kind="stable")]  # by date, as a shop system writes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)
    refunded = np.bincount(order[back], part[back], minlength=n) / 100
    truth = pd.DataFrame({
        "invoice": invoice, "customer": cid.astype(str).to_numpy(),
        "customer_id": o["customer_id"].astype(str).to_numpy(), "total": cents / 100,
        "refunded": refunded, "fully_returned": full,
        "ordered_at": pd.to_datetime(at).floor("min")})
    return LinesExport(path=path, lines=len(out), orders=truth)


__all__ = ["COLUMNS", "MAPPING", "RETURN_PREFIX", "LinesExport", "export_lines"]
