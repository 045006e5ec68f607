"""The competition over time and against losses, and the store-level entry points.

:func:`mention_trends` counts mentions and the customers behind them per competitor,
month and segment; :func:`lost_to_competitors` the share of lost customers (and of
lost revenue) who named each competitor in their last ``last_days`` before leaving;
:func:`competitor_whispers` the valuable customers who named one lately. :func:`listen`
runs it all on a store (its ``[listening]`` settings) and :func:`loss_reasons_of` the
reasons for leaving; :func:`listening` both, as the ``listening`` command and page show.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from loyalist.listening.reasons import loss_reasons, reasons_by, reasons_overall
from loyalist.listening.texts import competitor_mentions, gather, proposed_competitors
from loyalist.settings.listening import ListeningSettings


def mention_trends(mentions: pd.DataFrame, groups: pd.DataFrame | None = None, *,
                   by: str | None = "segment", freq: str = "M") -> pd.DataFrame:
    """Mentions and distinct customers per competitor, period (``freq``) and group."""
    m = mentions.copy()
    m["period"] = pd.to_datetime(m["at"]).dt.to_period(freq).astype(str)
    keys = ["competitor", "period"]
    if by and groups is not None and by in groups:
        m = m.merge(groups[["customer_id", by]], on="customer_id", how="left")
        m[by] = m[by].fillna("(none)")
        keys.append(by)
    cols = [*keys, "mentions", "customers"]
    if m.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return (m.groupby(keys).agg(mentions=("id", "size"), customers=("customer_id", "nunique"))
            .reset_index().sort_values(keys, ignore_index=True))


def lost_to_competitors(mentions: pd.DataFrame, lost: pd.DataFrame,
                        settings: ListeningSettings | None = None) -> pd.DataFrame:
    """Per competitor: lost customers who named it in the ``last_days`` before leaving,
    their share of all lost customers and of the lost revenue (``lost``: customer_id,
    lost_at, and revenue where known)."""
    settings = settings or ListeningSettings()
    lost = lost.assign(lost_at=pd.to_datetime(lost["lost_at"]))
    if "revenue" not in lost:
        lost = lost.assign(revenue=float("nan"))
    m = mentions.merge(lost[["customer_id", "lost_at", "revenue"]], on="customer_id")
    m = m[(m["at"] <= m["lost_at"])
          & (m["at"] > m["lost_at"] - pd.Timedelta(days=settings.last_days))]
    m = m.drop_duplicates(["competitor", "customer_id"])
    total_n, total_rev = len(lost), lost["revenue"].sum()
    out = m.groupby("competitor").agg(lost_customers=("customer_id", "size"),
                                      lost_revenue=("revenue", "sum")).reset_index()
    out["share_of_lost"] = out["lost_customers"] / max(total_n, 1)
    out["share_of_lost_revenue"] = (out["lost_revenue"] / total_rev if total_rev > 0
                                    else float("nan"))
    return out.sort_values("lost_customers", ascending=False, ignore_index=True)


def competitor_whispers(mentions: pd.DataFrame, values: pd.DataFrame, as_of,
                        settings: ListeningSettings | None = None, *,
                        days: int = 90) -> pd.DataFrame:
    """Valuable customers (the top ``valuable_top`` by ``values.value``) who named a
    competitor in the ``days`` before ``as_of``: a whisper each, with the evidence."""
    settings = settings or ListeningSettings()
    v = values.dropna(subset=["value"])
    cols = ["customer_id", "value", "competitor", "at", "topic", "evidence", "source", "id",
            "text"]
    if v.empty or mentions.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    bar = v["value"].quantile(1 - settings.valuable_top)
    top = v[v["value"] >= bar]
    as_of = pd.Timestamp(as_of)
    recent = mentions[(mentions["at"] < as_of)
                      & (mentions["at"] >= as_of - pd.Timedelta(days=days))]
    w = (recent.merge(top[["customer_id", "value"]], on="customer_id")
         .sort_values("at").drop_duplicates("customer_id", keep="last"))
    w["text"] = [f"Named {c} ({t}) on {a:%d %b %Y}: \u201c{e}\u201d"
                 for c, t, a, e in zip(w["competitor"], w["topic"], w["at"], w["evidence"],
                                       strict=True)]
    return w.sort_values("value", ascending=False, ignore_index=True)[cols]


@dataclass
class Listening:
    """What customers' words say about the competition (:func:`listen`)."""

    mentions: pd.DataFrame
    proposed: pd.DataFrame
    trends: pd.DataFrame
    lost_to: pd.DataFrame
    whispers: pd.DataFrame
    texts: int
    as_of: pd.Timestamp

    def summary(self) -> pd.DataFrame:
        """Per competitor: mentions, customers, the topic named most (``topic``: price,
        offer...; ``other`` only when no mention names one) with the share of the
        competitor's mentions that name it (``topic_share``), and the lost share."""
        if self.mentions.empty:
            return pd.DataFrame(columns=["competitor", "mentions", "customers", "topic",
                                         "topic_share", "share_of_lost",
                                         "share_of_lost_revenue"])

        def named_most(s: pd.Series) -> str:
            # most mentions name no topic ("switching to X next quarter"): the most
            # frequent named one says more than "other"
            named = s[s != "other"]
            return named.value_counts().index[0] if len(named) else "other"

        m = self.mentions.groupby("competitor").agg(
            mentions=("id", "size"), customers=("customer_id", "nunique"),
            topic=("topic", named_most)).reset_index()
        said = self.mentions.groupby(["competitor", "topic"]).size()
        m["topic_share"] = [said.get((c, t), 0) / n for c, t, n in
                            zip(m["competitor"], m["topic"], m["mentions"], strict=True)]
        m = m.merge(self.lost_to[["competitor", "share_of_lost", "share_of_lost_revenue"]],
                    on="competitor", how="left").fillna({"share_of_lost": 0.0})
        return m.sort_values("mentions", ascending=False, ignore_index=True)


def store_frames(store, as_of=None, by: str | None = "segment"):
    """The store's texts, customers' groups (``segment`` and the column ``by``),
    losses and values (small selections)."""
    from loyalist.errors import DataError
    from loyalist.features.retention import customer_values, retention_basis

    columns = store.table("customers").columns
    if by and by not in columns:
        raise DataError(f"Customers have no column {by!r} to split by.",
                        hint="Use one of: " + ", ".join(c for c in columns if c != "id")
                        + " (or --by '' for none).")
    tables = {}
    for name, cols in (("requests", ("id", "customer_id", "opened_at", "subject", "text")),
                       ("feedback", ("id", "customer_id", "answered_at", "comment")),
                       ("touches", ("id", "customer_id", "at", "note", "outcome")),
                       ("customers", tuple(dict.fromkeys(["id", "segment",
                                                          *([by] if by else [])])))):
        tables[name] = store.table(name).select(*cols).to_pandas()
    groups = tables["customers"].rename(columns={"id": "customer_id"})
    basis = retention_basis(store, as_of)
    lives = basis.lives.select("customer_id", "lost_at", "revenue").to_pandas()
    lost = lives[lives["lost_at"].notna()]
    values, _what = customer_values(store, basis=basis)
    return tables, groups, lost, values.to_pandas(), basis.as_of


def listen(store, settings: ListeningSettings | None = None, *, as_of=None,
           by: str | None = "segment", freq: str = "M") -> Listening:
    """Competitor mentions in the store's requests, comments and notes, names to
    confirm, trends, the losses behind each competitor and whispers."""
    from loyalist.settings import Settings

    settings = settings or Settings.load(store).listening
    frames = store_frames(store, as_of, by)
    return _competition(gather(frames[0]), frames, settings, by, freq)


def loss_reasons_of(store, settings: ListeningSettings | None = None, *, as_of=None,
                    by: str | None = "segment", freq: str = "Q"
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Why the store's lost customers left (one row each) and the reasons by period
    and ``by`` with the unknown share."""
    from loyalist.settings import Settings

    settings = settings or Settings.load(store).listening
    frames = store_frames(store, as_of, by)
    texts = gather(frames[0])
    mentions = competitor_mentions(texts, settings) if settings.competitors else None
    return _reasons(store, texts, frames, settings, mentions, by, freq)


def _competition(texts, frames, settings, by, freq) -> Listening:
    """:func:`listen` on texts already gathered from :func:`store_frames`."""
    _tables, groups, lost, values, as_of = frames
    mentions = competitor_mentions(texts, settings)
    return Listening(
        mentions=mentions, proposed=proposed_competitors(texts, settings),
        trends=mention_trends(mentions, groups, by=by, freq=freq),
        lost_to=lost_to_competitors(mentions, lost, settings),
        whispers=competitor_whispers(mentions, values, as_of, settings),
        texts=len(texts), as_of=as_of)


def _reasons(store, texts, frames, settings, mentions, by, freq):
    """:func:`loss_reasons_of` on texts (and mentions) already found."""
    _tables, groups, lost, _values, _as_of = frames
    alerts = None
    if "alerts" in store.tables():
        alerts = store.table("alerts").select("customer_id", "kind", "at", "text").to_pandas()
    r = loss_reasons(lost, texts, settings, mentions=mentions, alerts=alerts)
    r = r.merge(lost[["customer_id", "revenue"]], on="customer_id", how="left")
    return r, reasons_by(r, groups, by=by, freq=freq)


@dataclass
class ListeningReport:
    """The whole listening picture of a store (:func:`listening`): the competition in
    customers' words (``competition``, None until ``[listening] competitors`` lists
    some), the names to confirm, and why customers left (one row each, and by period)."""

    competitors: list[str]
    competition: Listening | None
    proposed: pd.DataFrame
    reasons: pd.DataFrame
    reasons_by: pd.DataFrame

    def reasons_overall(self) -> pd.DataFrame:
        """Per reason: customers, share and lost revenue."""
        return reasons_overall(self.reasons)


def listening(store, settings: ListeningSettings | None = None, *, as_of=None,
              by: str | None = "segment", freq: str = "M",
              reasons_freq: str = "Q") -> ListeningReport:
    """What ``loyalist listening``, ``/listening`` and ``/api/listening`` show: with a
    competitors list, :func:`listen`; without one, only the names to confirm; and, either
    way, :func:`loss_reasons_of`."""
    from loyalist.settings import Settings

    settings = settings or Settings.load(store).listening
    # the store read and the texts gathered once for both parts
    frames = store_frames(store, as_of, by)
    texts = gather(frames[0])
    if settings.competitors:
        competition = _competition(texts, frames, settings, by, freq)
        mentions, proposed = competition.mentions, competition.proposed
    else:
        competition, mentions = None, None
        proposed = proposed_competitors(texts, settings)
    each, by_period = _reasons(store, texts, frames, settings, mentions, by, reasons_freq)
    return ListeningReport(competitors=list(settings.competitors), competition=competition,
                           proposed=proposed, reasons=each, reasons_by=by_period)


__all__ = ["Listening", "ListeningReport", "competitor_whispers", "listen", "listening",
           "loss_reasons_of", "lost_to_competitors", "mention_trends", "store_frames"]
