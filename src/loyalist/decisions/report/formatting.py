"""Numbers and tables as the report shows them (plain strings; the template escapes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT or (
        not isinstance(v, (str, bytes, bool)) and pd.isna(v) is True)


def fmt_pct(v, digits: int = 1) -> str:
    """0.1823 -> '18.2%'."""
    return "–" if _missing(v) else f"{100 * float(v):.{digits}f}%"


def fmt_money(v) -> str:
    """Amounts with thousands separators, large ones shortened (1.2M, 35.4k)."""
    if _missing(v):
        return "–"
    v = float(v)
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e4, "k")):
        if abs(v) >= size:
            return f"{v / size:,.1f}{unit}"
    return f"{v:,.0f}"


def _quarter(v) -> str:
    t = pd.Timestamp(v)
    return f"{t.year} Q{(t.month - 1) // 3 + 1}"


#: how each ``kind`` of :func:`table` shows a (non-missing) value
_FORMATS = {
    "int": lambda v: f"{int(v):,}",
    "num0": lambda v: f"{float(v):,.0f}",
    "num1": lambda v: f"{float(v):,.1f}",
    "pct": fmt_pct,
    "pct0": lambda v: fmt_pct(v, 0),
    "money": fmt_money,
    "date": lambda v: f"{pd.Timestamp(v):%Y-%m-%d}",
    "datetime": lambda v: f"{pd.Timestamp(v):%Y-%m-%d %H:%M}",
    "month": lambda v: f"{pd.Timestamp(v):%b %Y}",
    "quarter": _quarter,
    "bool": lambda v: "yes" if bool(v) else "",
}


def _fmt(kind: str, v) -> str:
    if _missing(v):
        return "–"
    if kind in _FORMATS:
        return _FORMATS[kind](v)
    return f"{v:,.3g}" if isinstance(v, float) else str(v)


_NUMERIC = {"int", "num0", "num1", "pct", "pct0", "money"}


@dataclass
class Table:
    """A table ready for the page: header labels, rows of strings, which columns are
    numbers (right-aligned) and an optional CSS class per row."""

    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    row_class: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Table:
        """Any small frame, each column formatted by its type (shares as percentages
        when a column name says so)."""
        df = df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df
        spec = []
        for c in df.columns:
            s = df[c]
            if pd.api.types.is_bool_dtype(s):
                kind = "bool"
            elif pd.api.types.is_integer_dtype(s):
                kind = "int"
            elif pd.api.types.is_float_dtype(s):
                name = str(c)
                kind = ("pct" if any(w in name for w in ("rate", "share", "uplift", "ci_"))
                        and not name.startswith("revenue") else
                        "money" if name.startswith("revenue") or "value" in name else "num1")
            elif pd.api.types.is_datetime64_any_dtype(s):
                kind = "date"
            else:
                kind = "text"
            spec.append((c, str(c).replace("_", " "), kind))
        return table(df, spec)


def table(df: pd.DataFrame, spec, row_class=None) -> Table:
    """``spec``: (column, label, kind) with kind one of int, num0, num1, pct, pct0,
    money, date, datetime, month, quarter, bool, text. Missing columns are skipped."""
    spec = [s for s in spec if s[0] in df.columns]
    rows = [[_fmt(kind, v) for (_c, _l, kind), v in zip(spec, r, strict=True)]
            for r in df[[s[0] for s in spec]].itertuples(index=False)]
    return Table(columns=[s[1] for s in spec], rows=rows,
                 numeric=[s[2] in _NUMERIC for s in spec], row_class=row_class or [])


def loss_table(t: pd.DataFrame, dim: str, target: float) -> Table:
    """Loss over the last 12 months per group with its Wilson 95% interval, ranked by
    the interval's lower end (a group of one is not ranked on one customer); rows whose
    whole interval is above the target marked."""
    from loyalist.decisions.report.charts import wilson

    t = t.copy()
    t["low"], t["high"] = wilson(t["lost"], t["at_risk"])
    t["interval"] = [f"{lo:.0%} to {hi:.0%}" if lo == lo else "" for lo, hi
                     in zip(t["low"], t["high"], strict=True)]
    t = t.sort_values(["low", "at_risk"], ascending=False, ignore_index=True)
    over = ["over" if v > target else "" for v in t["low"].fillna(0)]
    return table(t, [(dim, dim, "text"), ("at_risk", "customers a year ago", "int"),
                     ("lost", "lost since", "int"), ("loss_rate", "lost (share)", "pct"),
                     ("interval", "95% interval", "text"),
                     ("revenue_loss_rate", "revenue lost (share)", "pct"),
                     ("active_now", "customers now", "int")], row_class=over)


def headline_sentence(loss_rate, target: float, months: int = 12) -> str:
    """'You lost 18.2% of customers in the last 12 months; target 5%.'"""
    t = fmt_pct(target, 0 if round(100 * target, 6) % 1 == 0 else 1)
    if _missing(loss_rate):
        return (f"Not enough history to measure losses over the last {months} months; "
                f"target {t}.")
    return f"You lost {fmt_pct(loss_rate)} of customers in the last {months} months; target {t}."
