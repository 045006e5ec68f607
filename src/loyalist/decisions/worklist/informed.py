"""Keep them informed: open matters with no word to the customer for too long.

Not knowing where their matter stands is what makes customers call back. A matter is
open at ``as_of`` when

- a request was opened before it and not resolved before it (``resolved_at``; only
  when the business records resolutions at all: without them nothing can be told);
- an order was placed before it and not delivered before it (``fulfilled_at``), and,
  with no delivery date, its status is not one that closes it (``[worklist]
  inform_closed_statuses``: cancelled, returned, completed...).

The last word to the customer is the latest of: the request's first answer
(``first_response_at``) or the order's acknowledgement (``acknowledged_at``), and any
contact logged against the matter (``touches.request_id`` / ``touches.order_id``;
a no-answer is no word). A matter silent for longer than ``[worklist]
inform_request_after_days`` / ``inform_order_after_days`` (counted from the last word,
else from when it was opened) and opened within ``inform_max_age_days`` picks the
customer for the playbook whose ``no_word_on`` names its kind: one row per customer,
the longest-silent matter leading, the others counted. The selection runs in the
engine (Ibis); only the silent matters come back.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.decisions.words import count, duration
from loyalist.features.builder import available
from loyalist.store.ingest.checks import strip

#: per matter kind: table, id column on touches, opened-at column, the business's own
#: word column, the words for opened, open, and the word
_KINDS = {
    "request": ("requests", "request_id", "opened_at", "first_response_at", "opened",
                "not resolved", "the first answer"),
    "order": ("orders", "order_id", "ordered_at", "acknowledged_at", "placed",
              "not yet delivered", "the acknowledgement"),
}
COLUMNS = ["customer_id", "why", "evidence", "since", "matter_id", "silent_days", "amount"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def _touched(store, id_col: str, now) -> ibis.Table:
    """The last contact logged against each matter (``id_col`` may list several ids,
    comma-separated), a no-answer not counted."""
    t = store.table("touches")
    t = t.filter((t["at"] < now) & t[id_col].notnull()
                 & (t.outcome.isnull() | (t.outcome != "no-answer")))
    # unnest first, strip after: Spark allows no generator nested in an expression
    t = t.select(matter=t[id_col].split(",").unnest(), at=t["at"])
    t = t.mutate(matter=strip(t.matter))
    return t.group_by("matter").aggregate(touched=t["at"].max())


def _open(store, kind: str, now, settings) -> ibis.Table | None:
    """The open matters of a kind at ``now`` (None when the records cannot tell)."""
    table, _id_col, opened, _word, *_ = _KINDS[kind]
    x = store.table(table)
    oldest = now - pd.Timedelta(days=settings.inform_max_age_days).to_pytimedelta()
    x = x.filter((x[opened] < now) & (x[opened] >= oldest) & x.id.notnull())
    if kind == "request":
        if not store.table(table).resolved_at.count().execute():
            return None
        return x.filter(x.resolved_at.isnull() | (x.resolved_at >= now))
    o = store.table(table)
    known = o.aggregate(f=o.fulfilled_at.count(), s=o.status.count()).to_pandas().iloc[0]
    if not (known["f"] or known["s"]):
        return None
    closed = [s.lower() for s in settings.inform_closed_statuses]
    status = strip(x.status.lower())
    return x.filter((x.fulfilled_at >= now)
                    | (x.fulfilled_at.isnull() & (x.status.isnull() | ~status.isin(closed))))


def silent_matters(store, kind: str, as_of, settings) -> pd.DataFrame:
    """One row per customer with an open matter of ``kind`` (request or order) silent
    for longer than the settings allow: ``customer_id``, ``why`` (in words, with the
    evidence), ``evidence`` (``requests:ID`` / ``orders:ID``), ``since`` (the matter
    opened), ``matter_id``, ``silent_days`` and ``amount`` (the order's own amount; none
    for a request) of the longest-silent one. Every customer's matters count, scored
    or not (the worklist values an unscored customer by :func:`unscored_people`)."""
    table, id_col, opened, word, opened_words, open_words, word_words = _KINDS[kind]
    if not available(store).get(table):
        return _empty()
    now = pd.Timestamp(as_of).to_pydatetime()
    x = _open(store, kind, now, settings)
    if x is None:
        return _empty()
    after = (settings.inform_request_after_days if kind == "request"
             else settings.inform_order_after_days)
    touched = _touched(store, id_col, now)
    j = x.left_join(touched, x.id == touched.matter)
    own = ibis.ifelse(j[word] < now, j[word], ibis.null("timestamp"))
    last = ibis.greatest(own.fill_null(j[opened]), j.touched.fill_null(j[opened]))
    secs = (ibis.literal(now).epoch_seconds() - last.epoch_seconds()).cast("float64")
    age = (ibis.literal(now).epoch_seconds() - j[opened].epoch_seconds()).cast("float64")
    rows = j.select(customer_id=j.customer_id, matter_id=j.id.cast("string"),
                    opened_at=j[opened], silent_days=secs / 86400.0, age_days=age / 86400.0,
                    own=own, touched=j.touched,
                    category=(j.category if kind == "request" else ibis.null("string")),
                    amount=(j.amount.cast("float64") if kind == "order"
                            else ibis.null("float64")))
    rows = rows.filter(rows.silent_days > float(after)).to_pandas()
    if rows.empty:
        return _empty()
    rows = rows.sort_values(["customer_id", "silent_days", "matter_id"],
                            ascending=[True, False, True])
    n = rows.groupby("customer_id")["matter_id"].transform("size")
    lead = rows.drop_duplicates("customer_id").copy()
    more = n.loc[lead.index] - 1
    texts = []
    for r, m in zip(lead.itertuples(index=False), more, strict=True):
        name = "Request" if kind == "request" else "Order"
        about = (f" ({r.category})" if kind == "request" and isinstance(r.category, str)
                 and r.category.strip() else "")
        text = (f"{name} {r.matter_id}{about} {opened_words} {duration(r.age_days)} ago, "
                f"{open_words}, ")
        if pd.isna(r.own) and pd.isna(r.touched):
            text += "no word to the customer since"
        else:
            by_call = pd.notna(r.touched) and (pd.isna(r.own) or r.touched >= r.own)
            text += (f"last word to the customer {duration(r.silent_days)} ago ("
                     f"{'a contact logged against it' if by_call else word_words})")
        if m:
            text += f"; and {count(m, 'more open ' + kind)} without word"
        texts.append(text)
    return pd.DataFrame({
        "customer_id": lead["customer_id"].astype(object).to_numpy(), "why": texts,
        "evidence": (f"{table}:" + lead["matter_id"].astype(str)).to_numpy(),
        "since": pd.to_datetime(lead["opened_at"]).to_numpy(),
        "matter_id": lead["matter_id"].astype(object).to_numpy(),
        "silent_days": lead["silent_days"].to_numpy(),
        "amount": lead["amount"].astype("float64").to_numpy()})


def unscored_people(store, matters: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """The worklist's people for the customers of silent ``matters`` it has no row for
    (never scored nor alerted: a new customer, or a business that has not run
    ``loyalist score``), so their matters are not left silent. Their value is unknown:
    the matter's own amount stands for it (an order's; none for a request), so keeping
    them informed is must-do only when that order alone reaches ``[worklist]
    inform_must_do_value``, discretionary otherwise. Segment, owner and the
    do-not-contact flag come from ``customers``; P(leave) stays unknown."""
    ids = matters.loc[~matters["customer_id"].isin(people["customer_id"]), "customer_id"]
    cols = list(people.columns)
    if ids.empty:
        return people.iloc[:0]
    c = store.table("customers")
    c = c.filter(c.id.isin(list(ids.astype(str).unique()))).select(
        customer_id=c.id, segment=c.segment, owner=c.owner,
        do_not_contact=c.do_not_contact.fill_null(False)).distinct(
        on="customer_id", keep="first").to_pandas()
    got = matters.loc[ids.index, ["customer_id", "amount"]].merge(c, on="customer_id",
                                                                  how="left")
    got = got.assign(value=got["amount"].fillna(0.0).clip(lower=0.0),
                     do_not_contact=got["do_not_contact"].fillna(False).astype(bool))
    return got.reindex(columns=cols)


__all__ = ["COLUMNS", "silent_matters", "unscored_people"]
