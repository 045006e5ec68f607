"""Simulated outreach: what happens when the team works the list, with the truth.

``simulate_outreach(business, assignments, uplift)`` plays out each assignment (a
customer, a playbook, treatment or control, the date) in the synthetic business:

- a customer *would lapse* when, without outreach, they place no order in the
  measurement window or the business's truth has them leave before its end;
- every assigned customer, in either arm, draws whether outreach would keep them
  (probability ``uplift[playbook] x m``, for those who would lapse) and the orders they
  would then place: from the later of leaving and the assignment, at their own purchase
  rate and order value, until the end of the records. These are the potential outcomes:
  without outreach the records as they are, with it the records plus those orders;
- only treated customers get the orders, and the touches the team would log (a call
  within a week: ``saved`` for those kept, else ``reached`` or ``no-answer``).

``m`` makes the effect heterogeneous on what the records show (``heterogeneity`` h,
default 0: the same for everyone): ``m = (1 - h) + h (0.6 r + 0.4 l) / 0.6``, with ``r``
= the customer opened a service request in the 90 days before the assignment (a live
problem a call can fix) and ``l`` = a customer for over a year when assigned; ``m`` is
capped at 1 / uplift so it stays a probability. The truth keeps ``m`` per unit.

With ``agents`` ({agent id: multiplier}), every unit is given one of them at random (on
its own random stream, so without agents nothing changes): the person who makes the call,
logged as ``touches.by``; their multiplier scales the unit's chance that outreach keeps
them (their true skill at saving), and the truth keeps ``agent`` per unit (for held-out
units: who would have called), so the verified saves of each person who worked the list
can be checked against their true saves.

**Response groups** (Radcliffe and Surry's four kinds of customer a contact meets), each
tied to what a real business can see:

- *lost causes*: would-be leavers a call cannot change. Eligible: customers the truth
  has leaving before the window ends for a reason outside the firm's reach (``reason``
  ``needs_changed``: moved, closed, downsized; or ``competitor``: an offer taken) who had
  already decided before the assignment (``decided_at``), so most of them said so in
  their last requests (a cancellation, "switching to ...", "closing one of our sites").
  A share ``lost_cause_share`` of the eligible are lost causes: the contact keeps none.
- *persuadables*: the other would-be leavers; the contact keeps each with probability
  ``uplift[playbook] x m`` (x the agent's skill), as before.
- *sleeping dogs*: customers who would stay, a customer for over ``SLEEPING_DOG_TENURE``
  days with no service request in the 365 days before the assignment (quiet and long
  settled: a call reminds them that the contract can be ended or the market compared).
  A share ``sleeping_dog_share`` of the eligible are sleeping dogs: the contact makes
  each leave with probability ``harm``; then the orders they would have placed from
  the day of the call on are not placed (``Outreach.removed_orders``; the truth's ``y1``
  counts only the orders before the call).
- *sure things*: the rest of those who would stay; the contact changes nothing.

``uplift`` and ``harm`` are the contact's effects (halve both to halve the effects);
the two shares are facts about the customers, not about the contact. With both shares
0 the simulation is exactly the one before the groups were added (the groups draw on
their own random streams). The defaults (``LOST_CAUSE_SHARE``, ``SLEEPING_DOG_SHARE``,
``HARM``) are judgement, not measurement, explained where they are defined.

The truth holds both potential outcomes of every unit, so the true average effect of
each playbook on the measured retention (an order in the window) is known exactly;
``expected_effect`` is each unit's expected change of retention given the groups
(would lapse x P(keep) for a persuadable, minus ``harm`` for a sleeping dog).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.datasets._common import contract_frame
from loyalist.errors import DataError

DAYS_PER_MONTH = 365.25 / 12

#: Of the would-be leavers who had decided to go for a reason outside the firm's reach
#: (needs changed: moved, closed, downsized; or a competitor's offer taken) before the
#: call, the share a call cannot turn. Most of them: a site closed or a contract signed
#: elsewhere stays so; the other 40% (an offer not yet signed, a move with a branch
#: left) are persuadable like anyone else. Judgement, not measurement.
LOST_CAUSE_SHARE = 0.6
#: Of the quiet, long-settled customers who would stay, the share a call disturbs; and
#: the probability that a contact makes a sleeping dog leave. Retention campaigns that
#: raised attrition among part of those contacted are the reason uplift modelling
#: exists (Radcliffe and Surry describe them); their size here is judgement: 20% of the
#: quiet customers x 25% harm is 5 points lost among them, a point or two on the list.
SLEEPING_DOG_SHARE = 0.2
HARM = 0.25
#: days a customer must have been one to be a possible sleeping dog ("long settled")
SLEEPING_DOG_TENURE = 365
GROUPS = ("persuadable", "lost cause", "sure thing", "sleeping dog")


@dataclass(frozen=True)
class Outreach:
    """Simulated outreach: contract rows to ingest and the truth behind them.

    Attributes
    ----------
    touches, orders : pandas.DataFrame
        Contract frames: the calls logged for treated customers, and the orders of the
        treated customers that outreach kept.
    truth : pandas.DataFrame
        One row per assignment: ``customer_id, playbook, arm, assigned_at, would_lapse,
        kept, y0, y1`` (retained without and with outreach), ``revenue0, revenue1``
        (order revenue in the window without and with it), ``effect_multiplier`` (``m``)
        and ``p_keep`` (the probability that outreach keeps them if they would lapse;
        0 for a lost cause), ``group`` (``GROUPS``), ``p_harm`` (the probability that
        the contact makes them leave: ``harm`` for a sleeping dog, else 0), ``harmed``
        (the contact would make them leave), ``called_at`` (when the call comes: the
        logged call of a treated unit; drawn for held-out units too) and ``expected_effect`` (module docstring); with
        ``agents``, also ``agent``.
    removed_orders : numpy.ndarray
        Ids of the business's orders that treated sleeping dogs the contact made leave
        do not place (from the call on): leave them out of the records loaded.
    """

    touches: pd.DataFrame
    orders: pd.DataFrame
    truth: pd.DataFrame
    removed_orders: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    def business_orders(self, business) -> pd.DataFrame:
        """The business's orders as the simulated outreach leaves them: without the
        ``removed_orders`` (load these plus ``orders``)."""
        o = business.tables["orders"]
        return o[~o["id"].isin(self.removed_orders)] if len(self.removed_orders) else o

    def true_effect(self) -> pd.DataFrame:
        """Per playbook and overall: the exact average effect on retention (``uplift``)
        and on revenue in the window, over all assigned customers."""
        t = self.truth.assign(d=self.truth["y1"].astype(int) - self.truth["y0"].astype(int),
                              dr=self.truth["revenue1"] - self.truth["revenue0"])
        per = t.groupby("playbook").agg(n=("d", "size"), uplift=("d", "mean"),
                                        revenue_uplift=("dr", "mean"))
        per.loc["overall"] = [len(t), (per["n"] * per["uplift"]).sum() / len(t),
                              (per["n"] * per["revenue_uplift"]).sum() / len(t)]
        return per.reset_index()


def simulate_outreach(business, assignments: pd.DataFrame, uplift: dict[str, float], *,
                      window_days: int = 90, seed: int = 0, reach_rate: float = 0.7,
                      contact_within_days: float = 7.0,
                      heterogeneity: float = 0.0,
                      agents: dict[str, float] | None = None,
                      lost_cause_share: float = LOST_CAUSE_SHARE,
                      sleeping_dog_share: float = SLEEPING_DOG_SHARE,
                      harm: float = HARM) -> Outreach:
    """Play out ``assignments`` (``customer_id, playbook, arm, assigned_at``) with a true
    ``uplift`` per playbook: the probability that outreach keeps a persuadable customer
    who would otherwise leave, times the multiplier ``m`` of ``heterogeneity`` and, with
    ``agents`` ({agent id: multiplier}), the multiplier of the agent who calls; lost
    causes (``lost_cause_share`` of the eligible) are not kept, sleeping dogs
    (``sleeping_dog_share`` of the eligible) leave when contacted with probability
    ``harm`` (module docstring; all three 0 give the simulation without response
    groups). Windows must end by ``business.as_of``."""
    if not 0 <= heterogeneity <= 1:
        raise DataError(f"heterogeneity must be between 0 and 1; got {heterogeneity!r}.",
                        hint="0: the same effect for everyone; 1: none without a reason.")
    for name, v in (("lost_cause_share", lost_cause_share),
                    ("sleeping_dog_share", sleeping_dog_share), ("harm", harm)):
        if not (np.isfinite(v) and 0 <= v <= 1):
            raise DataError(f"{name} must be between 0 and 1; got {v!r}.",
                            hint="0 turns the response group off (the simulation without "
                            "it).")
    need = {"customer_id", "playbook", "arm", "assigned_at"}
    if not need <= set(assignments.columns):
        raise DataError(f"assignments need the columns {sorted(need)}; got "
                        f"{sorted(assignments.columns)}.",
                        hint="Pass the _loyalist_assignments table of the store.")
    missing = sorted(set(assignments["playbook"]) - set(uplift))
    if missing:
        raise DataError(f"No uplift given for playbook {missing[0]!r}.",
                        hint="Give uplift={playbook: probability} for every playbook.")
    rng = np.random.default_rng(seed)
    a = assignments[list(need)].reset_index(drop=True).copy()
    a["assigned_at"] = pd.to_datetime(a["assigned_at"])
    a["ends"] = a["assigned_at"] + pd.Timedelta(days=window_days)
    end = business.as_of
    if (a["ends"] > end).any():
        raise DataError(f"Some windows end after the records do ({end.date()}).",
                        hint="Assign earlier or measure over a shorter window.")
    truth = business.truth["customers"].set_index("customer_id")
    info = truth.reindex(a["customer_id"])
    if info["purchase_rate"].isna().any():
        raise DataError("Some assigned customers are not in the business.",
                        hint="Use assignments made on a store of this business.")
    # the records as they are: orders in each unit's window
    o = business.tables["orders"][["customer_id", "ordered_at", "amount"]]
    j = a.reset_index().merge(o, on="customer_id")
    j = j[(j["ordered_at"] >= j["assigned_at"]) & (j["ordered_at"] < j["ends"])]
    base = j.groupby("index").agg(n=("amount", "size"), rev=("amount", "sum"))
    a["y0"] = base["n"].reindex(a.index).fillna(0).to_numpy() > 0
    a["revenue0"] = base["rev"].reindex(a.index).fillna(0.0).to_numpy()
    churned_at = info["churned_at"].to_numpy()
    a["would_lapse"] = ~a["y0"].to_numpy() | (pd.notna(churned_at)
                                               & (churned_at < a["ends"].to_numpy()))
    a["effect_multiplier"] = _multiplier(business, a, heterogeneity)
    skill = np.ones(len(a))
    if agents:
        names = list(agents)
        mult = np.array([float(agents[k]) for k in names])
        if not np.all(np.isfinite(mult) & (mult >= 0)):
            raise DataError("agents' multipliers must be numbers of 0 or more.",
                            hint='Give agents={"E01": 1.5, "E02": 0.5}.')
        who = np.random.default_rng([seed, 1]).integers(0, len(names), len(a))
        a["agent"] = np.asarray(names, dtype=object)[who]
        skill = mult[who]
    u = np.minimum(a["playbook"].map(uplift).astype(float).to_numpy()
                   * a["effect_multiplier"].to_numpy() * skill, 1.0)
    group, called = _groups(business, a, info, seed, window_days, contact_within_days,
                            lost_cause_share, sleeping_dog_share)
    u = np.where(group == "lost cause", 0.0, u)
    a["p_keep"] = u
    a["kept"] = (rng.random(len(a)) < u) & a["would_lapse"].to_numpy()
    a["group"] = group
    a["called_at"] = called
    a["p_harm"] = np.where(group == "sleeping dog", float(harm), 0.0)
    a["harmed"] = np.random.default_rng([seed, 3]).random(len(a)) < a["p_harm"].to_numpy()
    # the orders a kept customer places: from leaving (or assignment) to the records' end
    start = np.maximum(np.where(pd.notna(churned_at), churned_at, a["assigned_at"]),
                       a["assigned_at"].to_numpy()).astype("datetime64[us]")
    span = (end.to_datetime64() - start) / np.timedelta64(1, "D")
    rate = info["purchase_rate"].to_numpy() / DAYS_PER_MONTH
    counts = np.where(a["kept"], rng.poisson(np.clip(rate * span, 0, None)), 0)
    unit = np.repeat(np.arange(len(a)), counts)
    at = start[unit] + (rng.random(len(unit)) * span[unit] * 86400e6).astype(
        "timedelta64[us]")
    mean = info["mean_order_value"].to_numpy()[unit]
    amount = np.round(rng.gamma(4.0, mean / 4.0), 2)
    in_window = at < a["ends"].to_numpy().astype("datetime64[us]")[unit]
    extra_n = np.bincount(unit[in_window], minlength=len(a))
    extra_rev = np.bincount(unit[in_window], weights=amount[in_window], minlength=len(a))
    a["y1"] = a["y0"] | (extra_n > 0)
    a["revenue1"] = a["revenue0"] + extra_rev
    treated = (a["arm"] == "treatment").to_numpy()
    removed = np.array([], dtype=object)
    if a["harmed"].any():
        # a sleeping dog the contact wakes places no order from the call on
        jh = j[a["harmed"].to_numpy()[j["index"].to_numpy()]]
        before = jh[jh["ordered_at"] < a["called_at"].to_numpy()[jh["index"].to_numpy()]]
        kept_n = before.groupby("index").size().reindex(a.index).fillna(0).to_numpy()
        kept_rev = before.groupby("index")["amount"].sum().reindex(a.index).fillna(0.0)
        h = a["harmed"].to_numpy()
        a.loc[h, "y1"] = kept_n[h] > 0
        a.loc[h, "revenue1"] = kept_rev.to_numpy()[h]
        go = a[h & treated]
        oo = business.tables["orders"][["id", "customer_id", "ordered_at"]].merge(
            go[["customer_id", "called_at"]], on="customer_id")
        removed = oo.loc[oo["ordered_at"] >= oo["called_at"], "id"].to_numpy(dtype=object)
    a["expected_effect"] = (a["would_lapse"].to_numpy() * a["p_keep"].to_numpy()
                            - a["p_harm"].to_numpy())
    give = treated[unit]
    ids = np.char.add("SIMO", np.char.zfill(np.arange(1, give.sum() + 1).astype(str), 7))
    orders = contract_frame("orders", {
        "id": ids, "customer_id": a["customer_id"].to_numpy()[unit[give]],
        "ordered_at": at[give], "amount": amount[give],
        "quantity": np.ones(give.sum(), dtype=np.int64), "status": np.full(give.sum(),
                                                                          "fulfilled")})
    t = a[treated]
    call = t["assigned_at"].to_numpy() + (rng.random(len(t)) * contact_within_days
                                          * 86400e6).astype("timedelta64[us]")
    call = np.minimum(call, (end - pd.Timedelta(minutes=1)).to_datetime64())
    if a["harmed"].any():  # the woken sleeping dogs were called when they were drawn to be
        h = t["harmed"].to_numpy()
        call[h] = t["called_at"].to_numpy()[h]
    a.loc[treated, "called_at"] = call
    reached = rng.random(len(t)) < reach_rate
    outcome = np.where(t["kept"], "saved", np.where(reached, "reached", "no-answer"))
    touches = contract_frame("touches", {
        "id": np.char.add("SIMT", np.char.zfill(np.arange(1, len(t) + 1).astype(str), 7)),
        "customer_id": t["customer_id"].to_numpy(), "at": call,
        "kind": np.full(len(t), "call"), "outcome": outcome,
        "note": np.full(len(t), "simulated outreach"), "playbook": t["playbook"].to_numpy(),
        **({"by": t["agent"].to_numpy()} if agents else {})})
    truth_cols = ["customer_id", "playbook", "arm", "assigned_at", "would_lapse", "kept", "y0",
                  "y1", "revenue0", "revenue1", "effect_multiplier", "p_keep", "group",
                  "p_harm", "harmed", "called_at", "expected_effect"]
    truth_cols += ["agent"] if agents else []
    return Outreach(touches=touches, orders=orders, truth=a[truth_cols].reset_index(drop=True),
                    removed_orders=removed)


def _groups(business, a: pd.DataFrame, info: pd.DataFrame, seed: int, window_days: int,
            within: float, lost_share: float, dog_share: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's response group (``GROUPS``) and the moment its call comes (drawn for
    every unit, so a held-out unit's potential outcome has one), on their own random
    streams (module docstring)."""
    n = len(a)
    rng = np.random.default_rng([seed, 2])
    draw_lost, draw_dog = rng.random(n), rng.random(n)
    called = (a["assigned_at"].to_numpy().astype("datetime64[us]")
              + (rng.random(n) * within * 86400e6).astype("timedelta64[us]"))
    lapse = a["would_lapse"].to_numpy()
    ends = a["ends"].to_numpy()
    gone = pd.to_datetime(info["churned_at"]).to_numpy()
    decided = pd.to_datetime(info["decided_at"]).to_numpy()
    beyond = info["reason"].isin(["needs_changed", "competitor"]).to_numpy()
    lost = (lapse & beyond & pd.notna(gone) & (gone < ends) & pd.notna(decided)
            & (decided <= a["assigned_at"].to_numpy()) & (draw_lost < lost_share))
    dog = np.zeros(n, dtype=bool)
    if dog_share > 0:
        r = business.tables["requests"][["customer_id", "opened_at"]]
        jj = a[["customer_id", "assigned_at"]].reset_index().merge(r, on="customer_id")
        recent = jj[(jj["opened_at"] < jj["assigned_at"])
                    & (jj["opened_at"] >= jj["assigned_at"] - pd.Timedelta(days=365))]
        quiet = np.ones(n, dtype=bool)
        quiet[np.unique(recent["index"].to_numpy())] = False
        created = business.tables["customers"].set_index("id")["created_at"]
        tenure = (a["assigned_at"] - a["customer_id"].map(created)).dt.days.to_numpy()
        dog = ~lapse & quiet & (tenure > SLEEPING_DOG_TENURE) & (draw_dog < dog_share)
    group = np.where(lost, "lost cause", np.where(lapse, "persuadable",
                                                  np.where(dog, "sleeping dog", "sure thing")))
    return group.astype(object), called


def _multiplier(business, a: pd.DataFrame, h: float) -> np.ndarray:
    """``m`` per unit: (1 - h) + h (0.6 r + 0.4 l) / 0.6 from what the records show at the
    assignment (``r``: a request in the 90 days before; ``l``: a customer for a year)."""
    if h == 0:
        return np.ones(len(a))
    r = business.tables["requests"][["customer_id", "opened_at"]]
    j = a[["customer_id", "assigned_at"]].reset_index().merge(r, on="customer_id")
    recent = j[(j["opened_at"] < j["assigned_at"])
               & (j["opened_at"] >= j["assigned_at"] - pd.Timedelta(days=90))]["index"]
    has = np.zeros(len(a), dtype=bool)
    has[np.unique(recent.to_numpy())] = True
    created = business.tables["customers"].set_index("id")["created_at"]
    since = a["customer_id"].map(created)
    long = ((a["assigned_at"] - since).dt.days > 365).to_numpy()
    return (1 - h) + h * (0.6 * has + 0.4 * long) / 0.6
