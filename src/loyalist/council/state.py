"""Where the council stands: its members with their attendance, the meetings, the
points raised, the commitments (open, due, overdue, done: "you said, we did") and the
whispers: a member who stopped attending (missed the last ``missed_meetings``
meetings held since they joined) or one whose commitments are overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import CouncilError
from loyalist.settings.council import CouncilSettings
from loyalist.store import council as db

#: whisper kinds, each with what it means
WHISPER_KINDS = {"stopped_attending": "a member who missed the latest meetings",
                 "promise_overdue": "a commitment made to a member is past its date"}


@dataclass
class Council:
    """The council at ``as_of``."""

    as_of: pd.Timestamp
    members: pd.DataFrame
    meetings: pd.DataFrame
    points: pd.DataFrame
    commitments: pd.DataFrame
    whispers: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        c = self.commitments
        return {"as_of": f"{self.as_of:%Y-%m-%d}", "members": int(len(self.members)),
                "meetings": int(len(self.meetings)), "points": int(len(self.points)),
                "commitments_open": int((c["status"] != "done").sum()),
                "commitments_overdue": int((c["status"] == "overdue").sum()),
                "commitments_done": int((c["status"] == "done").sum()),
                "whispers": int(len(self.whispers))}


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _meetings(n: int) -> str:
    return "the last meeting" if n == 1 else f"the last {n} meetings"


def commitment_status(c: pd.DataFrame, as_of: pd.Timestamp, remind_days: int) -> pd.Series:
    """done, overdue (past its date), due (within ``remind_days``) or open."""
    done = c["closed_at"].notna()
    due = pd.to_datetime(c["due_at"])
    return pd.Series(np.select([done, due < as_of, due <= as_of + pd.Timedelta(
        days=remind_days)], ["done", "overdue", "due"], default="open"), index=c.index,
        dtype=object)


def council_state(store, as_of=None, settings: CouncilSettings | None = None) -> Council:
    """The council's members, meetings, points, commitments and whispers at ``as_of``
    (default: now)."""
    settings = settings or store.settings.council
    if not db.has_council(store):
        raise CouncilError("This store keeps no council records (a store opened read-only "
                           "from an older Loyalist, or a Spark store).",
                           hint="Open it once for writing with this Loyalist (it adds the "
                           "council's tables), or keep the council in a DuckDB store.")
    as_of = moment(as_of) if as_of is not None else pd.Timestamp.now(
        "UTC").tz_localize(None).floor("s")
    now = as_of.to_pydatetime()
    m = db.members_now(store)
    members = m.filter((m.event == "joined") & (m.since <= now)).to_pandas()
    meetings = db.frame(store, "meetings")
    meetings = meetings[meetings["held_at"] <= as_of].reset_index(drop=True)
    attendance = db.frame(store, "attendance")
    attendance = attendance[attendance["meeting_id"].isin(meetings["id"])]
    points = db.frame(store, "points")
    points = points[points["meeting_id"].isin(meetings["id"])].reset_index(drop=True)
    c = db.commitments_now(store)
    commitments = c.order_by("due_at").to_pandas()
    commitments.loc[commitments["closed_at"] > as_of, ["closed_at", "you_said",
                                                        "we_did"]] = None
    commitments["status"] = commitment_status(commitments, as_of, settings.remind_days)
    if len(commitments):
        late = (as_of - pd.to_datetime(commitments["due_at"])).dt.days
        commitments["days_overdue"] = late.where(commitments["status"] == "overdue")
    else:
        commitments["days_overdue"] = pd.Series(dtype=float)
    names = _names(store, members["customer_id"])
    members = members.assign(name=members["customer_id"].map(names))
    members = _attendance(members, meetings, attendance)
    open_c = commitments[commitments["status"] != "done"]
    members["open_commitments"] = members["customer_id"].map(
        open_c["customer_id"].value_counts()).fillna(0).astype(int)
    members["overdue_commitments"] = members["customer_id"].map(
        open_c.loc[open_c["status"] == "overdue", "customer_id"].value_counts()).fillna(
        0).astype(int)
    meetings["attended"] = meetings["id"].map(attendance["meeting_id"].value_counts()
                                              ).fillna(0).astype(int)
    meetings["points"] = meetings["id"].map(points["meeting_id"].value_counts()).fillna(
        0).astype(int)
    whispers = _whispers(members, commitments, settings)
    notes = []
    if not len(members):
        notes.append("The council has no members yet: loyalist council suggest proposes a "
                     "panel, loyalist council confirm ID... confirms them.")
    return Council(as_of=as_of, members=members.drop(columns=["event", "at"]),
                   meetings=meetings, points=points, commitments=commitments,
                   whispers=whispers, notes=notes)


def _names(store, ids: pd.Series) -> pd.Series:
    if not len(ids):
        return pd.Series(dtype=object)
    c = store.table("customers")
    got = c.filter(c.id.isin(list(ids.astype(str)))).select("id", "name").to_pandas()
    return got.drop_duplicates("id").set_index("id")["name"]


def _attendance(members: pd.DataFrame, meetings: pd.DataFrame,
                attendance: pd.DataFrame) -> pd.DataFrame:
    """Per member: meetings held since they joined, attended, last attended, and how
    many of the latest they missed in a row."""
    came = set(zip(attendance["meeting_id"], attendance["customer_id"], strict=True))
    held, went, missed, last = [], [], [], []
    order = meetings.sort_values("held_at")
    for r in members.itertuples(index=False):
        mine = order[order["held_at"] >= pd.Timestamp(r.since).normalize()]
        here = [(mid, cid) in came for mid, cid in zip(mine["id"], [r.customer_id] * len(
            mine), strict=True)]
        held.append(len(mine))
        went.append(int(sum(here)))
        run = 0
        for h in reversed(here):
            if h:
                break
            run += 1
        missed.append(run)
        at = mine.loc[np.asarray(here, bool), "held_at"] if len(mine) else mine["held_at"]
        last.append(at.max() if len(at) else pd.NaT)
    return members.assign(meetings_held=held, attended=went, missed_in_row=missed,
                          last_attended=pd.to_datetime(pd.Series(last, index=members.index,
                                                                 dtype="datetime64[us]")))


def _whispers(members: pd.DataFrame, commitments: pd.DataFrame,
              settings: CouncilSettings) -> pd.DataFrame:
    """One row per member and kind: ``customer_id, kind, text, evidence``."""
    rows = []
    n = settings.missed_meetings
    for r in members[members["missed_in_row"] >= n].itertuples(index=False):
        last = (f"; last came on {r.last_attended.day} {r.last_attended:%B %Y}" if pd.notna(r.last_attended)
                else "; has not come to any since joining")
        rows.append({"customer_id": r.customer_id, "kind": "stopped_attending",
                     "text": f"Council member who missed {_meetings(r.missed_in_row)}"
                     f"{last}: ask what would make the council worth their time",
                     "evidence": f"attended {r.attended} of {r.meetings_held}"})
    late = commitments[commitments["status"] == "overdue"]
    for cid, g in late.groupby("customer_id", sort=True):
        worst = g.sort_values("days_overdue", ascending=False).iloc[0]
        more = f" (and {len(g) - 1} more)" if len(g) > 1 else ""
        rows.append({"customer_id": cid, "kind": "promise_overdue",
                     "text": f"A promise made to them at the council is "
                     f"{_days(int(worst['days_overdue']))} overdue{more}: "
                     f"\u201c{worst['text']}\u201d, owned by {worst['owner']}",
                     "evidence": ", ".join(g["commitment_id"])})
    return pd.DataFrame(rows, columns=["customer_id", "kind", "text", "evidence"])


__all__ = ["WHISPER_KINDS", "Council", "commitment_status", "council_state"]


def member_council(store, customer_id: str, settings: CouncilSettings | None = None
                   ) -> dict | None:
    """One customer's place on the council now, for their page: since when they are a
    member (or when they left), the meetings held since they joined that they attended
    and missed (and how many of the latest in a row), and the open commitments made to
    them, each with its owner, due date and status. ``None`` when they never joined (or
    the store keeps no council). One small query (:func:`loyalist.store.council.member_rows`)."""
    settings = settings or store.settings.council
    rows = db.member_rows(store, customer_id)
    member = rows[rows["kind"] == "member"]
    if not len(member):
        return None
    now = pd.Timestamp.now("UTC").tz_localize(None).floor("s")
    meetings = rows[(rows["kind"] == "meeting") & (rows["at"] <= now)].sort_values("at")
    went = meetings["attended"].astype(bool).tolist()
    run = 0
    for came in reversed(went):
        if came:
            break
        run += 1
    promises = rows[rows["kind"] == "promise"].sort_values(["due_at", "id"]).assign(
        closed_at=pd.NaT)
    promises = promises.assign(status=commitment_status(promises, now, settings.remind_days))
    left = member["left_at"].iloc[0]
    last = meetings.loc[meetings["attended"].astype(bool), "at"]
    return {"since": member["at"].iloc[0], "left_at": None if pd.isna(left) else left,
            "meetings_held": len(went), "attended": int(sum(went)),
            "missed": len(went) - int(sum(went)), "missed_in_row": run,
            "last_attended": last.max() if len(last) else None,
            "commitments": [{"commitment_id": r.id, "text": r.text, "owner": r.owner,
                             "due_at": r.due_at, "status": r.status}
                            for r in promises.itertuples(index=False)]}
