"""The day's digest: each owner's list and the retention lead's summary, as text.

An owner's message lists their open worklist items, most urgent first (must-do items
marked), with the counts: open, must do, overdue, opened today. The lead's summary
gives the loss rate against the target (with its window), the new alarms since the
previous digest, the worklist's backlog and the model's health. Addresses come from
``[daily] owners`` (staff id or team -> address), else the staff table's ``email``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from loyalist.contract.derived import MUST_DO
from loyalist.daily.send import Message


def _n(k: int, one: str, many: str | None = None) -> str:
    return f"{k:,} {one if k == 1 else (many or one + 's')}"


@dataclass
class DayFigures:
    """What the lead's summary says, gathered once."""

    day: pd.Timestamp
    open_items: int
    must_do: int
    overdue: int
    opened_today: int
    backlog: int | None
    new_alarms: int
    alarms_by_kind: dict
    loss: dict | None
    target: float
    unanswered_now: int | None
    health: str | None
    health_alert: bool
    problems: list[str]
    #: no earlier digest: every must-do alert counts as new
    first: bool = False


def addresses(store, settings) -> dict[str, tuple[str, ...]]:
    """Owner (staff id or team) -> e-mail addresses: ``[daily] owners`` first, then the
    staff table's ``email`` column."""
    out: dict[str, tuple[str, ...]] = {}
    staff = store.table("staff")
    if "email" in staff.columns:
        for r in staff.select("id", "email").to_pyarrow().to_pylist():
            if r["email"] and "@" in str(r["email"]):
                out[str(r["id"])] = (str(r["email"]).strip(),)
    for owner, address in settings.daily.owners.items():
        out[owner] = (address,)
    return out


def _names(store) -> dict[str, str]:
    c = store.table("customers")
    if "name" not in c.columns:
        return {}
    rows = c.select("id", "name").filter(c.name.notnull()).to_pyarrow().to_pylist()
    return {str(r["id"]): str(r["name"]) for r in rows}


def _due(due, today: pd.Timestamp) -> str:
    if pd.isna(due):
        return ""
    d = (pd.Timestamp(due).normalize() - today).days
    if d < 0:
        return f"overdue {_n(-d, 'day')}"
    return "due today" if d == 0 else f"due in {_n(d, 'day')}"


def owner_messages(store, settings, day: pd.Timestamp, items: pd.DataFrame) -> list[Message]:
    """One message per owner with open items: their list, most urgent first."""
    from loyalist.decisions.worklist.outcomes import people

    cfg = settings.daily
    names, staff, book = _names(store), people(store), addresses(store, settings)
    out = []
    for owner, mine in items.groupby("owner", sort=True):
        mine = mine.sort_values("priority")
        must = int(mine["must_do"].fillna(False).sum())
        overdue = int((mine["due_at"] < day).sum())
        new = int((mine["opened_at"] >= day).sum()) if "opened_at" in mine else 0
        who = staff.get(str(owner), str(owner))
        lines = [f"Good morning {who},", "",
                 f"Your list for {day:%A %d %B %Y}: {_n(len(mine), 'open item')}, "
                 f"{must:,} must do, {overdue:,} overdue, {new:,} new today.", ""]
        for r in mine.head(cfg.max_items).itertuples(index=False):
            name = names.get(str(r.customer_id))
            cust = f"{name} ({r.customer_id})" if name else str(r.customer_id)
            flag = "MUST DO " if r.must_do else ""
            lines.append(f"{r.priority:>4}. {flag}{cust}: {r.playbook}, "
                         f"{_due(r.due_at, day)}")
            if isinstance(r.why, str) and r.why:
                lines.append(f"      why: {r.why}")
            if isinstance(r.action, str) and r.action:
                lines.append(f"      do: {r.action}")
        if len(mine) > cfg.max_items:
            lines.append(f"      ... and {_n(len(mine) - cfg.max_items, 'more item')} "
                         "(loyalist worklist --owner " + str(owner) + ", or the web app).")
        lines += ["", "Log each outcome when done: loyalist log CUSTOMER_ID --outcome "
                  "reached, or in the web app."]
        out.append(Message("owner", str(owner),
                           f"Your list for {day:%Y-%m-%d}: {_n(len(mine), 'item')}"
                           + (f", {must:,} must do" if must else ""),
                           "\n".join(lines), book.get(str(owner), ())))
    return out


def figures(store, settings, day: pd.Timestamp, items: pd.DataFrame, *,
            backlog: int | None, since, health=None, problems=()) -> DayFigures:
    """The lead's figures: ``since`` is the data end of the previous digest (alarms
    after it are new)."""
    from loyalist.decisions.overview import overview

    ov = overview(store)
    alarms = pd.DataFrame()
    if "alerts" in store.tables():
        a = store.table("alerts")
        alarms = a.filter(a.kind.isin(list(MUST_DO))).select("kind", "at").to_pandas()
        if since is not None and len(alarms):
            alarms = alarms[alarms["at"] > pd.Timestamp(since)]
    ret = ov.get("retention")
    return DayFigures(
        day=day, open_items=len(items), must_do=int(items["must_do"].fillna(False).sum()),
        overdue=int((items["due_at"] < day).sum()),
        opened_today=int((items["opened_at"] >= day).sum()), backlog=backlog,
        new_alarms=len(alarms),
        alarms_by_kind=alarms["kind"].value_counts().to_dict() if len(alarms) else {},
        loss=ret["trailing"] if ret else None,
        target=settings.report.target_annual_loss,
        unanswered_now=(ov.get("service") or {}).get("summary", {}).get("unanswered_now"),
        health=health.line() if health is not None else None,
        health_alert=bool(health is not None and health.alert), problems=list(problems),
        first=since is None)


def lead_message(f: DayFigures, owners: list[Message], settings) -> Message:
    """The lead's summary of the day."""
    lines = [f"Retention summary for {f.day:%A %d %B %Y}", ""]
    if f.loss:
        months = int(f.loss.get("months") or 12)
        rate = float(f.loss.get("loss_rate") or 0.0)
        yearly = 1 - (1 - rate) ** (12 / months) if months else rate
        verdict = "above" if yearly > f.target else "within"
        lines.append(f"Loss rate: {rate:.1%} of {f.loss.get('at_risk', 0):,} customers lost "
                     f"in the last {_n(months, 'month')} ({yearly:.1%} a year), {verdict} "
                     f"the target of {f.target:.1%} a year.")
    else:
        lines.append("Loss rate: not computed yet (loyalist score).")
    kinds = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in f.alarms_by_kind.items())
    what = ("every must-do alert open, as this is the first digest" if f.first
            else "must-do alerts since the previous digest")
    lines.append(f"New alarms ({what}): {f.new_alarms:,}" + (f" ({kinds})" if kinds else "")
                 + ".")
    lines.append(f"Worklist: {_n(f.open_items, 'open item')}, {f.must_do:,} must do, "
                 f"{f.overdue:,} overdue, {f.opened_today:,} opened today"
                 + (f"; backlog beyond today's caps: {f.backlog:,}" if f.backlog else "")
                 + ".")
    if f.unanswered_now is not None:
        lines.append(f"Requests unanswered now: {f.unanswered_now:,}.")
    lines.append("Model health: " + (f.health or "not checked (no churn model yet)") + ".")
    sent = [m for m in owners if m.to]
    lines.append(f"Lists: {_n(len(owners), 'owner')} with open items"
                 + (f", {len(owners) - len(sent):,} without an e-mail address ([daily] "
                    "owners or the staff table's email)" if len(sent) < len(owners) else "")
                 + ".")
    if f.problems:
        lines += ["", "Problems in today's run:"] + [f"  - {p}" for p in f.problems]
    lead = settings.daily.lead
    return Message("lead", "lead", f"Retention summary {f.day:%Y-%m-%d}: "
                   f"{_n(f.open_items, 'open item')}, {f.new_alarms:,} new alarms"
                   + (", MODEL ALERT" if f.health_alert else ""),
                   "\n".join(lines), (lead,) if lead else ())


def admin_message(health, settings, day: pd.Timestamp) -> Message:
    """The model-health alert for the admins."""
    cfg = settings.daily
    to = tuple(cfg.admins) or ((cfg.lead,) if cfg.lead else ())
    text = "\n".join([
        f"The churn model failed its daily health check on {day:%Y-%m-%d}.", "",
        health.line() + ".", "",
        "What to do: run loyalist backtest to see it against its baselines, check the "
        "latest exports (loyalist status, loyalist rejects), then refit with loyalist "
        "score. The thresholds are [daily] min_auc, auc_drop and max_calibration_gap."])
    return Message("admin", "admin", f"Model health alert {day:%Y-%m-%d}: model "
                   f"#{health.model_id}", text, to)


__all__ = ["DayFigures", "addresses", "admin_message", "figures", "lead_message",
           "owner_messages"]
