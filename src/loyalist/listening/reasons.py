"""Why customers left: the reason the team logged, else one suggested from the words.

The taxonomy is ``[listening] loss_reasons`` (reason -> words). For each lost customer:

1. **logged**: an exit outcome the team logged (a touch with outcome ``lost``) whose
   note names a reason of the taxonomy (its name or one of its words);
2. **suggested**: else the reason whose words (and competitor mentions: about price,
   a price reason; else a competitor reason) weigh most in the customer's texts of
   the ``last_days`` before leaving, the latest counting most, and their open alerts
   (an unanswered request or repeated contacts speak of service);
3. **unknown**: nothing said: shown as such, never spread over the other reasons.

Each reason comes with its evidence (the text or alert behind it). These are the
*stated* reasons; failure-based attribution (what went wrong for the customer) is a
separate, declared source and is never mixed in.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.settings.listening import ListeningSettings

UNKNOWN = "unknown"
#: alert kinds that speak of a reason, and the reason
ALERT_REASON = {"unanswered_request": "service", "repeated_contact": "service",
                "competitor_words": "competitor"}
#: a text's weight halves every this many days before the customer left
HALF_LIFE_DAYS = 30.0
COLUMNS = ["customer_id", "lost_at", "reason", "source", "evidence", "evidence_id"]


def _patterns(settings: ListeningSettings) -> dict[str, re.Pattern]:
    if not settings.loss_reasons:
        raise DataError("No loss reasons are set: reasons cannot be given.",
                        hint="Leave [listening] loss_reasons out for the defaults (price, "
                             "service, product, competitor, moved_or_closed, "
                             "no_longer_needs) or list yours (docs/listening.md).")
    return {r: re.compile("|".join([re.escape(r.replace("_", " "))]
                                   + [f"(?:{w})" for w in words]), re.IGNORECASE)
            for r, words in settings.loss_reasons.items()}


def reason_scores(texts: pd.Series, settings: ListeningSettings) -> pd.DataFrame:
    """Hits of each reason's words in each text (rows aligned with ``texts``)."""
    pats = _patterns(settings)
    out = {}
    values = texts.fillna("").astype(str)
    for r, rx in pats.items():
        out[r] = values.str.count(rx).to_numpy()
    return pd.DataFrame(out, index=texts.index)


def loss_reasons(lost: pd.DataFrame, texts: pd.DataFrame,
                 settings: ListeningSettings | None = None, *,
                 mentions: pd.DataFrame | None = None,
                 alerts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reason each lost customer left, where it comes from and its evidence.

    ``lost``: ``customer_id`` and ``lost_at``; ``texts``: :func:`~loyalist.listening.
    texts.gather`; ``mentions`` (optional): :func:`~loyalist.listening.texts.
    competitor_mentions` of those texts; ``alerts`` (optional): ``customer_id``,
    ``kind``, ``at``, ``text``. Returns ``customer_id``, ``lost_at``, ``reason`` (one
    of the taxonomy or ``unknown``), ``source`` (logged, suggested, none), ``evidence``
    and ``evidence_id``.
    """
    settings = settings or ListeningSettings()
    reasons = list(settings.loss_reasons)
    _patterns(settings)
    lost = lost[["customer_id", "lost_at"]].drop_duplicates("customer_id")
    lost = lost.assign(lost_at=pd.to_datetime(lost["lost_at"]))
    window = pd.Timedelta(days=settings.last_days)
    t = texts.merge(lost, on="customer_id")
    # the team's exit notes: up to last_days after leaving; the customer's words before
    exit_ = t[(t["source"] == "touches") & (t["outcome"].astype(str).str.lower() == "lost")
              & (t["at"] >= t["lost_at"] - window) & (t["at"] <= t["lost_at"] + window)]
    said = t[(t["source"] != "touches") & (t["at"] <= t["lost_at"])
             & (t["at"] > t["lost_at"] - window)]
    rows = {}
    if len(exit_):
        sc = reason_scores(exit_["text"], settings)
        best = sc.to_numpy().argmax(axis=1)
        named = sc.to_numpy().max(axis=1) > 0
        e = exit_.assign(reason=np.asarray(reasons)[best])[named].sort_values("at")
        for r in e.itertuples():
            rows[r.customer_id] = (r.reason, "logged", r.text, f"touches:{r.id}")
    weight_of = {}
    if len(said):
        age = (said["lost_at"] - said["at"]).dt.total_seconds() / 86400.0
        w = np.power(0.5, age.to_numpy() / HALF_LIFE_DAYS)
        sc = reason_scores(said["text"], settings).to_numpy(dtype=float, copy=True)
        if mentions is not None and len(mentions):
            key = said["source"] + ":" + said["id"].astype(str)
            m = mentions.assign(key=mentions["source"] + ":" + mentions["id"].astype(str))
            price = set(m.loc[m["topic"] == "price", "key"])
            other = set(m.loc[m["topic"] != "price", "key"])
            for r, keys in (("price", price), ("competitor", other)):
                if r in reasons:
                    sc[:, reasons.index(r)] += key.isin(keys).to_numpy()
        weight_of = _weigh(said, sc * w[:, None], reasons)
    if alerts is not None and len(alerts):
        a = alerts.merge(lost, on="customer_id")
        a = a[(pd.to_datetime(a["at"]) <= a["lost_at"])
              & (pd.to_datetime(a["at"]) > a["lost_at"] - window)]
        for r in a.itertuples():
            reason = ALERT_REASON.get(r.kind)
            if reason in reasons and r.customer_id not in weight_of:
                weight_of[r.customer_id] = (reason, r.text, f"alerts:{r.kind}")
    out = []
    for c, at in zip(lost["customer_id"], lost["lost_at"], strict=True):
        if c in rows:
            reason, source, ev, ev_id = rows[c]
        elif c in weight_of:
            reason, ev, ev_id = weight_of[c]
            source = "suggested"
        else:
            reason, source, ev, ev_id = UNKNOWN, "none", "", ""
        out.append((c, at, reason, source, ev, ev_id))
    return pd.DataFrame(out, columns=COLUMNS)


def _weigh(said: pd.DataFrame, scores: np.ndarray, reasons: list[str]) -> dict:
    """Per customer: the reason of most weight, with the text that weighs most for it."""
    df = pd.DataFrame(scores, columns=reasons)
    df["customer_id"] = said["customer_id"].to_numpy()
    total = df.groupby("customer_id")[reasons].sum()
    total = total[total.to_numpy().max(axis=1) > 0]
    best = pd.Series(np.asarray(reasons)[total.to_numpy().argmax(axis=1)], index=total.index)
    col = {r: i for i, r in enumerate(reasons)}
    out = {}
    pick = df.assign(reason=df["customer_id"].map(best))
    pick = pick[pick["reason"].notna()]
    own = scores[pick.index.to_numpy(), [col[r] for r in pick["reason"]]]
    pick = pick.assign(own=own, text=said["text"].to_numpy()[pick.index],
                       eid=(said["source"] + ":" + said["id"].astype(str)).to_numpy()[
                           pick.index])
    pick = pick.sort_values("own").drop_duplicates("customer_id", keep="last")
    for r in pick.itertuples():
        out[r.customer_id] = (r.reason, r.text, r.eid)
    return out


def reasons_by(reasons: pd.DataFrame, groups: pd.DataFrame | None = None, *,
               by: str | None = "segment", freq: str = "Q") -> pd.DataFrame:
    """Lost customers per period (``freq``: M, Q or Y) and group, by reason, with the
    share of each reason, ``unknown`` included (never spread over the others).
    ``groups``: ``customer_id`` and the ``by`` column (and ``revenue`` to weigh)."""
    r = reasons.copy()
    r["period"] = pd.to_datetime(r["lost_at"]).dt.to_period(freq).astype(str)
    keys = ["period"]
    if by and groups is not None and by in groups:
        r = r.merge(groups[["customer_id", by]], on="customer_id", how="left")
        r[by] = r[by].fillna("(none)")
        keys.append(by)
    n = r.groupby([*keys, "reason"]).size().rename("customers").reset_index()
    n["share"] = n["customers"] / n.groupby(keys)["customers"].transform("sum")
    return n.sort_values([*keys, "customers"], ascending=[True] * len(keys) + [False],
                         ignore_index=True)


def reasons_overall(reasons: pd.DataFrame) -> pd.DataFrame:
    """Lost customers, lost revenue (where ``revenue`` is given) and the share of each
    reason, ``unknown`` included, most customers first."""
    r = reasons if "revenue" in reasons else reasons.assign(revenue=float("nan"))
    out = (r.groupby("reason").agg(customers=("customer_id", "size"),
                                   revenue=("revenue", "sum")).reset_index()
           .sort_values("customers", ascending=False, ignore_index=True))
    out["share"] = out["customers"] / max(len(r), 1)
    return out


def reasons_by_department(reasons: pd.DataFrame, departments) -> pd.DataFrame:
    """The stated reasons by department (``[departments] reasons``, the one map):
    lost customers and lost revenue (where ``revenue`` is given) per department, with
    ``unknown`` (nothing said) and ``none`` (no department's: moved, needs ended) as
    their own rows, never spread over the departments. ``departments``: the
    :class:`~loyalist.settings.departments.DepartmentSettings`."""
    r = reasons if "revenue" in reasons else reasons.assign(revenue=float("nan"))
    r = r.assign(department=r["reason"].map(departments.of_reason))
    out = (r.groupby("department").agg(customers=("customer_id", "size"),
                                       revenue=("revenue", "sum")).reset_index())
    out["share"] = out["customers"] / max(len(r), 1)
    total = r["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total > 0 else float("nan")
    return out.sort_values("customers", ascending=False, ignore_index=True)


def macro_f1(truth: pd.Series, guess: pd.Series) -> float:
    """Macro-averaged F1 over the reasons of ``truth``."""
    f = []
    for r in pd.unique(truth):
        tp = ((guess == r) & (truth == r)).sum()
        p = tp / max((guess == r).sum(), 1)
        rec = tp / max((truth == r).sum(), 1)
        f.append(0.0 if tp == 0 else 2 * p * rec / (p + rec))
    return float(np.mean(f))


__all__ = ["ALERT_REASON", "UNKNOWN", "loss_reasons", "macro_f1", "reason_scores",
           "reasons_by", "reasons_by_department", "reasons_overall"]
