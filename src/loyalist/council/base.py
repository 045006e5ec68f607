"""The customer base a council panel represents: every current customer with their
segment, region, tenure, value, chance of leaving and whether they are an advocate.

Computed with Ibis over the store's tables (customers, orders, subscriptions, feedback,
and the ``scores`` and ``customer_value`` tables when the models have run), so it runs
on DuckDB or Spark alike; one row per customer comes back.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.settings.council import CouncilSettings

#: an NPS at least this is a stated promoter
PROMOTER_NPS = 9
#: a modelled chance of recommending at least this is a likely advocate
LIKELY_PROMOTER = 0.7


def _rows(store, name: str) -> bool:
    return name in store.tables() and bool(store.table(name).count().execute())


def latest_date(store):
    """The latest date in the orders, requests or feedback (the day the data runs to)."""
    found = []
    for name, col in (("orders", "ordered_at"), ("requests", "opened_at"),
                      ("feedback", "answered_at"), ("subscriptions", "started_at")):
        if _rows(store, name):
            v = store.table(name)[col].max().execute()
            if v is not None and not pd.isna(v):
                found.append(pd.Timestamp(v))
    return max(found) if found else pd.Timestamp.now("UTC").tz_localize(None).normalize()


def customer_base(store, as_of=None, settings: CouncilSettings | None = None
                  ) -> pd.DataFrame:
    """Current customers (ordered within ``active_days`` of ``as_of``, or with a running
    subscription; everyone when the store has neither orders nor subscriptions), not
    asking to be left alone, with :data:`~loyalist.council.panel.BASE_COLUMNS` and
    ``name``."""
    settings = settings or store.settings.council
    as_of = moment(as_of) if as_of is not None else latest_date(store)
    now = as_of.to_pydatetime()
    c = store.table("customers")
    cols = c.columns
    region = c["region"].cast("string") if "region" in cols else ibis.null("string")
    dnc = c.do_not_contact.fill_null(False) if "do_not_contact" in cols else ibis.literal(False)
    base = c.filter(~dnc).select(
        customer_id=c.id, name=c.name, segment=c.segment, region=region,
        created_at=c.created_at).distinct(on="customer_id", keep="first")
    since = (as_of - pd.Timedelta(days=settings.active_days)).to_pydatetime()
    have_orders, have_subs = _rows(store, "orders"), _rows(store, "subscriptions")
    active = None
    if have_orders:
        o = store.table("orders")
        o = o.filter(o.ordered_at <= now)
        spend = o.filter(o.ordered_at > since).group_by("customer_id").aggregate(
            spend=o.amount.sum())
        base = base.left_join(spend, "customer_id").drop("customer_id_right")
        active = spend.select("customer_id")
    else:
        base = base.mutate(spend=ibis.null("float64"))
    if have_subs:
        s = store.table("subscriptions")
        running = s.filter((s.started_at <= now) & (s.ended_at.isnull() | (s.ended_at > now)))
        mrr = running.group_by("customer_id").aggregate(mrr=running.mrr.sum())
        base = base.left_join(mrr, "customer_id").drop("customer_id_right")
        subs = mrr.select("customer_id")
        active = subs if active is None else active.union(subs, distinct=True)
    else:
        base = base.mutate(mrr=ibis.null("float64"))
    if active is not None:
        base = base.semi_join(active, "customer_id")
    if _rows(store, "feedback"):
        f = store.table("feedback")
        f = f.filter((f.answered_at <= now) & f.nps.notnull())
        last = f.group_by("customer_id").aggregate(
            nps=f.nps.argmax(f.answered_at), nps_at=f.answered_at.max())
        base = base.left_join(last, "customer_id").drop("customer_id_right")
    else:
        base = base.mutate(nps=ibis.null("int64"), nps_at=ibis.null("timestamp"))
    df = base.to_pandas()
    df["tenure_days"] = (as_of - pd.to_datetime(df["created_at"])).dt.days.astype(float)
    df["value"] = (df["spend"].fillna(0) + 12 * df["mrr"].fillna(0)).astype(float)
    df = _models(store, df)
    df["advocate"] = _advocate(df)
    from loyalist.council.panel import BASE_COLUMNS

    return df[[*BASE_COLUMNS, "name"]].sort_values("customer_id", ignore_index=True)


def _models(store, df: pd.DataFrame) -> pd.DataFrame:
    """Chance of leaving and of recommending from the latest scores; value from the
    value model's CLV when it has run (else spend and a year of subscriptions)."""
    df = df.assign(p_leave=float("nan"), p_promoter=float("nan"))
    if "scores" in store.tables():
        s = store.table("scores")
        pick = ["customer_id", "p_leave"] + (["p_promoter"] if "p_promoter" in s.columns
                                             else [])
        if "as_of" in s.columns:
            s = s.filter(s.as_of == s.as_of.max())
        got = s.select(*pick).distinct(on="customer_id", keep="first").to_pandas()
        df = df.drop(columns=[c for c in pick if c != "customer_id"]).merge(
            got, on="customer_id", how="left")
        if "p_promoter" not in df:
            df["p_promoter"] = float("nan")
    if "customer_value" in store.tables() and "clv" in store.table("customer_value").columns:
        v = store.table("customer_value").select("customer_id", "clv").distinct(
            on="customer_id", keep="first").to_pandas()
        df = df.merge(v, on="customer_id", how="left")
        df["value"] = df["clv"].where(df["clv"].notna(), df["value"]).astype(float)
        df = df.drop(columns="clv")
    return df


def _advocate(df: pd.DataFrame) -> pd.Series:
    """Why a customer is an advocate, in words (None when they are not): a stated
    promoter (their last NPS), else a likely one (the model's chance)."""
    nps = pd.to_numeric(df["nps"], errors="coerce")
    stated = nps >= PROMOTER_NPS
    when = pd.to_datetime(df["nps_at"]).dt.strftime("%B %Y")
    said = ("scored us " + nps.round().astype("Int64").astype("string") + " out of 10 in "
            + when.astype("string"))
    p = pd.to_numeric(df["p_promoter"], errors="coerce")
    likely = ~stated & (p >= LIKELY_PROMOTER)
    chance = ("likely to recommend us (a " + (100 * p).round().astype("Int64").astype("string")
              + "% chance)")
    out = pd.Series(None, index=df.index, dtype=object)
    out[stated.fillna(False)] = said[stated.fillna(False)]
    out[likely.fillna(False)] = chance[likely.fillna(False)]
    return out


__all__ = ["customer_base", "latest_date"]
