"""Does outreach keep customers? Treated against held-out customers, per playbook.

Every customer assigned to a discretionary playbook (``_loyalist_assignments``) is one
unit, in the arm drawn at assignment (intention to treat: a treated customer counts as
treated whether or not anyone reached them). Over the ``window_days`` after the
assignment a unit is *retained* when

- it placed an order in the window (a business with orders), or
- it has a subscription active at the window's end (a business with subscriptions only);

and its *revenue* is the amount of its orders in the window (else the subscription
revenue earned in it). Only windows that have ended by ``as_of`` count.

Intervals (95%): the difference in retention uses Newcombe's hybrid score interval
built from the two Wilson intervals (Newcombe 1998, *Statistics in Medicine* 17:873,
method 10); the difference in mean revenue uses Welch's t interval. "overall" weights
each playbook's difference by its number of customers (its arms may have different
control shares, so pooled customers would not compare like with like) with a normal
interval from the weighted variances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from loyalist.contract.moments import moment
from loyalist.errors import DataError
from loyalist.features.builder import available
from loyalist.store.worklist import assignments

Z = float(stats.norm.ppf(0.975))
COLUMNS = ["playbook", "n_treated", "n_control", "retained_treated", "retained_control",
           "retention_treated", "retention_control", "uplift", "ci_low", "ci_high",
           "revenue_treated", "revenue_control", "revenue_uplift", "revenue_ci_low",
           "revenue_ci_high", "enough", "verdict"]


@dataclass
class ImpactResult:
    """The measured effect of outreach. ``table`` has one row per playbook and one
    "overall"; ``pending`` counts assignments whose window has not ended yet."""

    table: pd.DataFrame
    as_of: pd.Timestamp
    window_days: int
    mode: str
    pending: int
    notes: list[str] = field(default_factory=list)

    def verdict(self) -> str:
        rows = self.table[self.table["playbook"] == "overall"]
        return rows["verdict"].iloc[0] if len(rows) else "No outreach measured yet."


def wilson(k: float, n: float, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def newcombe(k1: float, n1: float, k0: float, n0: float, z: float = Z
             ) -> tuple[float, float, float]:
    """Difference ``k1/n1 - k0/n0`` with Newcombe's hybrid score interval."""
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1, z)
    l0, u0 = wilson(k0, n0, z)
    d = p1 - p0
    return d, d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), \
        d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def welch(m1, v1, n1, m0, v0, n0, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means with Welch's t interval (unequal variances)."""
    d = m1 - m0
    a, b = v1 / n1, v0 / n0
    se = np.sqrt(a + b)
    if se == 0:
        return d, d, d
    df = (a + b) ** 2 / (a * a / max(n1 - 1, 1) + b * b / max(n0 - 1, 1))
    t = stats.t.ppf(0.5 + level / 2, df)
    return d, d - t * se, d + t * se


def _units(store, window_days: int, as_of) -> tuple[ibis.Table, str]:
    """One row per assignment whose window ended: playbook, arm, retained, revenue."""
    from loyalist.models.early_warning import choose_mode

    mode = choose_mode(store)
    a = assignments(store)
    a = a.mutate(ends=a.assigned_at + ibis.interval(days=window_days))
    a = a.filter(a.ends <= pd.Timestamp(as_of).to_pydatetime())
    keys = ["customer_id", "playbook", "arm", "assigned_at"]
    if mode == "lapse":
        o = store.table("orders")
        o = o.select(oc=o.customer_id, oat=o.ordered_at, amt=o.amount)
        j = a.left_join(o, (a.customer_id == o.oc) & (o.oat >= a.assigned_at)
                        & (o.oat < a.ends))
        per = j.group_by(keys).aggregate(retained=(j.oc.count() > 0).cast("int64"),
                                         revenue=j.amt.sum().fill_null(0))
        return per, mode
    s = store.table("subscriptions")
    s = s.select(sc=s.customer_id, st=s.started_at, en=s.ended_at, mrr=s.mrr)
    j = a.left_join(s, (a.customer_id == s.sc) & (s.st < a.ends)
                    & (s.en.isnull() | (s.en > a.assigned_at)))
    start = ibis.greatest(j.st, j.assigned_at)
    stop = ibis.least(j.en.fill_null(j.ends), j.ends)
    days = (stop.epoch_seconds() - start.epoch_seconds()) / 86400
    active_end = j.sc.notnull() & (j.st < j.ends) & (j.en.isnull() | (j.en >= j.ends))
    per = j.group_by(keys).aggregate(
        retained=active_end.any().cast("int64").fill_null(0),
        revenue=(j.mrr.fill_null(0) * days / (365.25 / 12)).sum().fill_null(0))
    return per, mode


def verdict_text(r, min_per_arm: int) -> str:
    if min(r["n_treated"], r["n_control"]) < min_per_arm:
        return (f"Too few customers to tell yet: {r['n_treated']} treated and "
                f"{r['n_control']} held out (at least {min_per_arm} in each are needed).")
    d, lo, hi = 100 * r["uplift"], 100 * r["ci_low"], 100 * r["ci_high"]
    rates = (f"retention {r['retention_treated']:.1%} treated vs {r['retention_control']:.1%} "
             "held out")
    if lo <= 0 <= hi:
        return (f"Not enough evidence yet: {rates}, a difference of {d:+.1f} points whose 95% "
                f"interval ({lo:+.1f} to {hi:+.1f}) includes no effect.")
    word = "kept more" if d > 0 else "kept fewer"
    return (f"Outreach {word} customers: {rates}, {d:+.1f} points (95% interval {lo:+.1f} to "
            f"{hi:+.1f}).")


def measure_impact(store, *, window_days: int = 90, as_of=None, min_per_arm: int = 30
                   ) -> ImpactResult:
    """Retention and revenue of treated against held-out customers over ``window_days``
    after their assignment, per playbook and overall, with 95% intervals."""
    if window_days < 1:
        raise DataError(f"window_days must be 1 or more; got {window_days!r}.",
                        hint="Measure over e.g. --window 90 days.")
    have = available(store)
    if not (have["orders"] or have["subscriptions"]):
        raise DataError("Impact needs orders or subscriptions to see who stayed.",
                        hint="Ingest orders or subscriptions.")
    if as_of is None:
        from loyalist.decisions.scoring import default_as_of

        as_of = default_as_of(store)
    as_of = moment(as_of)
    n_all = int(assignments(store).count().execute())
    per, mode = _units(store, window_days, as_of)
    agg = per.group_by(["playbook", "arm"]).aggregate(
        n=per.count(), k=per.retained.sum(), rev=per.revenue.mean(),
        rev_var=per.revenue.var(how="sample")).to_pandas()
    rows = []
    for name, g in agg.groupby("playbook"):
        t = g[g["arm"] == "treatment"]
        c = g[g["arm"] == "control"]
        rows.append(_row(name, t.iloc[0] if len(t) else None, c.iloc[0] if len(c) else None))
    table = pd.DataFrame(rows, columns=[*COLUMNS[:-2], "_var", "_rev_var"])
    if len(table):
        table = pd.concat([table, _overall(table)], ignore_index=True)
    table = table.drop(columns=["_var", "_rev_var"])
    table["enough"] = False
    table["verdict"] = ""
    for i, r in table.iterrows():
        table.at[i, "verdict"] = verdict_text(r, min_per_arm)
        table.at[i, "enough"] = bool(min(r["n_treated"], r["n_control"]) >= min_per_arm
                                     and not (r["ci_low"] <= 0 <= r["ci_high"]))
    measured = int(table.loc[table["playbook"] != "overall", ["n_treated", "n_control"]]
                   .to_numpy().sum()) if len(table) else 0
    notes = []
    if n_all == 0:
        notes.append("No customer has been assigned yet: run loyalist worklist.")
    return ImpactResult(table=table, as_of=as_of, window_days=window_days, mode=mode,
                        pending=int(n_all - measured), notes=notes)


def _row(name, t, c) -> dict:
    nt = int(t["n"]) if t is not None else 0
    nc = int(c["n"]) if c is not None else 0
    kt = int(t["k"]) if t is not None else 0
    kc = int(c["k"]) if c is not None else 0
    row = {"playbook": name, "n_treated": nt, "n_control": nc, "retained_treated": kt,
           "retained_control": kc, "retention_treated": kt / nt if nt else np.nan,
           "retention_control": kc / nc if nc else np.nan,
           "revenue_treated": float(t["rev"]) if nt else np.nan,
           "revenue_control": float(c["rev"]) if nc else np.nan}
    if nt and nc:
        row["uplift"], row["ci_low"], row["ci_high"] = newcombe(kt, nt, kc, nc)
        vt = float(t["rev_var"]) if nt > 1 and pd.notna(t["rev_var"]) else 0.0
        vc = float(c["rev_var"]) if nc > 1 and pd.notna(c["rev_var"]) else 0.0
        row["revenue_uplift"], row["revenue_ci_low"], row["revenue_ci_high"] = welch(
            row["revenue_treated"], vt, nt, row["revenue_control"], vc, nc)
        row["_var"] = (row["retention_treated"] * (1 - row["retention_treated"]) / nt
                       + row["retention_control"] * (1 - row["retention_control"]) / nc)
        row["_rev_var"] = vt / nt + vc / nc
    else:
        for k in ("uplift", "ci_low", "ci_high", "revenue_uplift", "revenue_ci_low",
                  "revenue_ci_high"):
            row[k] = np.nan
    return row


def _overall(table: pd.DataFrame) -> pd.DataFrame:
    both = table[(table["n_treated"] > 0) & (table["n_control"] > 0)]
    sums = table[["n_treated", "n_control", "retained_treated", "retained_control"]].sum()
    row = {"playbook": "overall", **{k: int(v) for k, v in sums.items()}}
    nt, nc = row["n_treated"], row["n_control"]
    row["retention_treated"] = row["retained_treated"] / nt if nt else np.nan
    row["retention_control"] = row["retained_control"] / nc if nc else np.nan
    w = (both["n_treated"] + both["n_control"]) / (both["n_treated"] + both["n_control"]).sum()
    if len(both) == 1:
        one = both.iloc[0]
        for k in ("uplift", "ci_low", "ci_high", "revenue_treated", "revenue_control",
                  "revenue_uplift", "revenue_ci_low", "revenue_ci_high"):
            row[k] = one[k]
    elif len(both):
        row["uplift"] = float((w * both["uplift"]).sum())
        se = float(np.sqrt((w * w * both["_var"]).sum()))
        row["ci_low"], row["ci_high"] = row["uplift"] - Z * se, row["uplift"] + Z * se
        row["revenue_treated"] = float((w * both["revenue_treated"]).sum())
        row["revenue_control"] = float((w * both["revenue_control"]).sum())
        row["revenue_uplift"] = float((w * both["revenue_uplift"]).sum())
        se = float(np.sqrt((w * w * both["_rev_var"]).sum()))
        row["revenue_ci_low"] = row["revenue_uplift"] - Z * se
        row["revenue_ci_high"] = row["revenue_uplift"] + Z * se
    return pd.DataFrame([row]).reindex(columns=table.columns)
