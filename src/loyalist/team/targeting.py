"""Uplift targeting: from the worklist's own randomised hold-outs, whom a contact changes.

Every discretionary assignment (``_loyalist_assignments``: a customer, a playbook,
treatment or control drawn at random) whose measurement window has ended is one unit of
an experiment; its outcome is the one :mod:`loyalist.decisions.worklist.impact` measures
(retained: an order in the window, else a subscription active at its end). Its features
are what the records showed at the assignment: P(leave) and value as the worklist saw
them, segment, tenure, orders and spend in the year before, days since the last order,
service requests in the 90 and 365 days before and how many of those were call-backs.

:func:`fit_uplift` learns, per playbook with at least ``[team] uplift_min_outcomes``
units in each arm, an uplift model (X-learner by default, two-model on request),
validated on a held-out 30% by the Qini coefficient with a bootstrap interval; then
refitted on every unit, it scores the customers scored today and writes
``uplift_scores``: per customer and playbook the predicted change in P(stay) and the
expected value saved by the contact (uplift x value). A playbook's ranking switches to
it only when its held-out Qini's 95% interval is above 0; the worklist reads
``uplift_scores`` and says which ranking is in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import DataError
from loyalist.features.builder import available
from loyalist.store.worklist import assignments
from loyalist.team.uplift import (
    TwoModelUplift,
    UpliftCheck,
    XLearnerUplift,
    check_uplift,
    design_matrix,
)

NUMERIC = ("p_leave", "value", "tenure_days", "orders_365d", "spend_365d",
           "days_since_order", "requests_90d", "requests_365d", "callbacks_365d")
CATEGORICAL = ("segment",)
METHODS = {"x-learner": XLearnerUplift, "two-model": TwoModelUplift}
TABLE = "uplift_scores"


def unit_features(store, units: pd.DataFrame) -> pd.DataFrame:
    """``units`` (``customer_id, at`` and optionally ``p_leave, value``) with what the
    records showed at ``at``: the columns of ``NUMERIC`` and ``CATEGORICAL``. Computed
    in the engine (one join per table; one group-by per table when every unit has the
    same date)."""
    have = available(store)
    u = units[["customer_id", "at"]].reset_index(drop=True).copy()
    u["unit"] = np.arange(len(u), dtype=np.int64)
    u["customer_id"] = u["customer_id"].astype(str)
    u["at"] = pd.to_datetime(u["at"]).astype("datetime64[us]")
    out = u[["unit"]].copy()
    day = 86400
    # one date for every unit (today's customers): each table is grouped by customer
    # once; else every unit is joined to the rows before its own date
    single = u["at"].nunique() == 1
    # the units go to the engine once; what comes back is keyed by the integer unit (no
    # customer ids to convert and merge in pandas: at a million customers that was most
    # of the time)
    m = ibis.memtable(u[["unit", "customer_id"]] if single else u)
    if single:
        at0 = ibis.literal(u["at"].iloc[0].to_pydatetime())

    def per_unit(t, cid, ts, aggregates) -> pd.DataFrame:
        """``aggregates(rows, age_days)`` over the rows of ``t`` before each unit's date,
        one row per unit (``unit`` and the aggregates)."""
        if single:
            rows = t.filter(t[ts] < at0)
            age = (at0.epoch_seconds() - rows[ts].epoch_seconds()) / day
            agg = rows.group_by(_cid=rows[cid].cast("string")).aggregate(
                **aggregates(rows, age))
            j = m.inner_join(agg, m.customer_id == agg._cid)
            return j.drop("customer_id", "_cid").to_pandas()
        j = m.inner_join(t, (m.customer_id == t[cid]) & (t[ts] < m["at"]))
        age = (j["at"].epoch_seconds() - j[ts].epoch_seconds()) / day
        return j.group_by("unit").aggregate(**aggregates(j, age)).to_pandas()

    c = store.table("customers")
    c = c.select(cid=c.id, segment=c.segment, created_at=c.created_at).distinct(
        on="cid", keep="first")
    j = m.left_join(c, m.customer_id == c.cid)
    at = at0 if single else j["at"]
    cust = j.select("unit", "segment", tenure_days=(
        (at.epoch_seconds() - j.created_at.epoch_seconds()) / day)).to_pandas()
    out = out.merge(cust, on="unit", how="left")
    if have.get("orders"):
        o = store.table("orders")
        o = o.select(oc=o.customer_id, oat=o.ordered_at, amt=o.amount)
        out = out.merge(per_unit(o, "oc", "oat", lambda j, age: {
            "orders_365d": (age <= 365).cast("int64").sum(),
            "spend_365d": j.amt.sum(where=age <= 365),
            "days_since_order": age.min()}), on="unit", how="left")
    if have.get("requests"):
        r = store.table("requests")
        r = r.select(rc=r.customer_id, rat=r.opened_at, parent=r.parent_id)
        out = out.merge(per_unit(r, "rc", "rat", lambda j, age: {
            "requests_90d": (age <= 90).cast("int64").sum(),
            "requests_365d": (age <= 365).cast("int64").sum(),
            "callbacks_365d": ((age <= 365) & j.parent.notnull()).cast("int64").sum()}),
            on="unit", how="left")
    for col in ("orders_365d", "spend_365d", "requests_90d", "requests_365d",
                "callbacks_365d"):
        out[col] = out[col].fillna(0.0) if col in out else 0.0
    if "days_since_order" not in out:
        out["days_since_order"] = np.nan
    out = out.sort_values("unit").reset_index(drop=True)
    for col in ("p_leave", "value"):
        out[col] = (units[col].to_numpy(dtype=float) if col in units
                    else np.full(len(out), np.nan))
    return out[list(NUMERIC) + list(CATEGORICAL)]


def uplift_units(store, as_of, window_days: int) -> pd.DataFrame:
    """One row per assignment whose window ended by ``as_of``: ``customer_id, playbook,
    arm, assigned_at, treated, retained`` and the features at the assignment."""
    from loyalist.decisions.worklist.impact import _units

    per, _mode = _units(store, window_days, as_of)
    a = assignments(store)
    a = a.select("customer_id", "playbook", "arm", "assigned_at", "p_leave", "value")
    j = per.inner_join(a, ["customer_id", "playbook", "arm", "assigned_at"])
    df = j.select("customer_id", "playbook", "arm", "assigned_at", "p_leave", "value",
                  "retained").to_pandas()
    df = df.sort_values(["playbook", "customer_id", "assigned_at"]).reset_index(drop=True)
    feats = unit_features(store, df.rename(columns={"assigned_at": "at"}))
    out = pd.concat([df[["customer_id", "playbook", "arm", "assigned_at", "retained"]],
                     feats], axis=1)
    out["treated"] = (out["arm"] == "treatment").astype(int)
    return out


def matrix(frame: pd.DataFrame, levels: dict | None = None) -> tuple[np.ndarray, dict]:
    """The design matrix of the features; ``levels`` fixes the categorical levels (those
    seen in training) so scoring has the same columns."""
    f = frame.copy()
    levels = levels or {c: sorted(f[c].astype("string").fillna("(none)").unique())
                        for c in CATEGORICAL}
    for c, known in levels.items():
        v = f[c].astype("string").fillna("(none)")
        f[c] = v.where(v.isin(known), "(none)")
    X, _names = design_matrix(f, NUMERIC, [])
    cats = [np.column_stack([(f[c] == lv).to_numpy(dtype=float) for lv in known])
            for c, known in levels.items() if known]
    return (np.column_stack([X, *cats]) if cats else X), levels


@dataclass
class PlaybookUplift:
    """The uplift learned for one playbook."""

    playbook: str
    n_treated: int
    n_control: int
    in_force: bool
    reason: str
    check: UpliftCheck | None = None
    model: object | None = None
    levels: dict | None = None
    #: mean predicted uplift among the customers scored today, and how many they are
    mean_uplift: float = float("nan")
    scored: int = 0
    #: of the top ``compare_k`` by risk x value, how many the uplift ranking keeps
    overlap_top: float = float("nan")

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("playbook", "n_treated", "n_control", "in_force",
                                           "reason", "mean_uplift", "scored", "overlap_top")}
        d.update({f"check_{k}": v for k, v in (self.check.to_dict().items()
                                               if self.check else [])})
        return d


@dataclass
class UpliftRun:
    """What :func:`fit_uplift` found: one entry per playbook with assignments."""

    as_of: pd.Timestamp
    method: str
    playbooks: list[PlaybookUplift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([p.to_dict() for p in self.playbooks])

    def to_dict(self) -> dict:
        return {"as_of": str(self.as_of.date()), "method": self.method,
                "playbooks": [_plain(p.to_dict()) for p in self.playbooks],
                "notes": self.notes}


def _plain(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and np.isnan(v) else
                v.item() if isinstance(v, np.generic) else v) for k, v in d.items()}


def fit_uplift(store, as_of=None, *, settings=None, method: str = "x-learner",
               seed: int = 0, write: bool = True, n_boot: int = 200) -> UpliftRun:
    """Learn the uplift of each playbook from its hold-outs and score today's customers.

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        Only windows ended by then count (default: the scores' date).
    settings : Settings, optional
        Default: the store's (``[team] uplift_min_outcomes``, ``[worklist] window_days``).
    method : "x-learner" or "two-model"
    write : bool
        Write ``uplift_scores`` (the worklist ranks by it where a playbook's uplift is in
        force).
    """
    from loyalist.settings import Settings

    if method not in METHODS:
        raise DataError(f"Unknown uplift method {method!r}.",
                        hint="Use one of: " + ", ".join(METHODS) + ".")
    settings = settings or Settings.load(store)
    if "scores" not in store.tables():
        raise DataError("The store has no scores yet.", hint="Run loyalist score first.")
    scores = store.table("scores")
    if as_of is None:
        as_of = scores.as_of.max().execute()
    as_of = moment(as_of)
    window = settings.worklist.settings.window_days
    need = settings.team.uplift_min_outcomes
    units = uplift_units(store, as_of, window)
    run = UpliftRun(as_of=as_of, method=method)
    if units.empty:
        run.notes.append("No hold-out outcome yet: the worklist's assignments need "
                         f"{window} days after they were drawn.")
    today = _today(store, as_of)
    rows = []
    for name, g in units.groupby("playbook", sort=True):
        nt, nc = int(g["treated"].sum()), int((1 - g["treated"]).sum())
        pu = PlaybookUplift(playbook=str(name), n_treated=nt, n_control=nc, in_force=False,
                            reason="")
        run.playbooks.append(pu)
        if min(nt, nc) < need:
            pu.reason = (f"{min(nt, nc)} outcomes in the smaller arm; {need} needed "
                         "([team] uplift_min_outcomes): ranked by risk x value")
            continue
        X, levels = matrix(g)
        y, t = g["retained"].to_numpy(), g["treated"].to_numpy()
        check, _test, _s = check_uplift(METHODS[method](random_state=seed), X, y, t,
                                        seed=seed, n_boot=n_boot)
        pu.check = check
        pu.model = METHODS[method](random_state=seed).fit(X, y, t)
        pu.levels = levels
        # the whole interval above 0: on a few hundred outcomes a point estimate above 0
        # is often noise, and a noisy uplift ranking saves fewer than the risk ranking
        pu.in_force = bool(check.qini_low > 0)
        pu.reason = (f"held-out Qini {check.qini:.3f} (95% {check.qini_low:.3f} to "
                     f"{check.qini_high:.3f}) on {check.n_test} customers: "
                     + ("ranked by uplift x value" if pu.in_force
                        else "not surely better than random, ranked by risk x value"))
        if pu.in_force and len(today):
            Xs, _ = matrix(today, levels)
            up = pu.model.predict_uplift(Xs)
            pu.mean_uplift, pu.scored = float(np.mean(up)), len(up)
            value = today["value"].fillna(0).to_numpy()
            evs = up * value
            k = max(1, len(up) // 10)
            risk_top = set(np.argsort(-(today["p_leave"].to_numpy() * value))[:k])
            pu.overlap_top = len(risk_top & set(np.argsort(-evs)[:k])) / k
            rows.append(pd.DataFrame({
                "customer_id": today["customer_id"].to_numpy(), "playbook": pu.playbook,
                "as_of": as_of, "uplift": up, "value": value,
                "expected_value_saved": evs, "qini": check.qini,
                "method": method}))
    if write:
        from loyalist.contract.derived import get_derived

        out = (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            {c: pd.Series(dtype=object) for c in get_derived(TABLE).names}))
        store.write_derived(TABLE, out, note=f"as of {as_of.date()}, {method}")
    return run


def _today(store, as_of) -> pd.DataFrame:
    """The customers scored (P(leave)) with their value and features at ``as_of``."""
    from loyalist.decisions.service.stay_in_touch import value_table

    sc = store.table("scores").select("customer_id", "p_leave")
    v = value_table(store, as_of)
    j = sc.left_join(v, sc.customer_id == v.customer_id)
    s = j.select(sc.customer_id, "p_leave", value=j.value.fill_null(0.0)).order_by(
        "customer_id").to_pandas()
    s["at"] = as_of
    feats = unit_features(store, s)
    return pd.concat([s[["customer_id"]].reset_index(drop=True), feats], axis=1)
