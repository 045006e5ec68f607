"""``make_business``: one coherent synthetic firm, its records and the truth behind them."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loyalist.contract import TABLES
from loyalist.datasets import (
    _departments,
    _feedback,
    _hazard,
    _orders,
    _relationship,
    _season,
    _service,
)
from loyalist.datasets import _text as tx
from loyalist.datasets._common import contract_frame, ids, join, pick, to_timestamps
from loyalist.datasets._customers import ARCHETYPES, SPEND_P, make_customers
from loyalist.errors import DataError

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Business:
    """A synthetic business: its records (``tables``) and the truth behind them (``truth``).

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        One frame per contract table (``customers``, ``orders``, ``subscriptions``,
        ``requests``, ``feedback``, ``events``, ``touches``), with exactly the contract's
        columns and types; ``customers`` also has the attributes ``region``, ``plan`` and
        ``acquired_via``. ``touches`` is empty: nobody has reached out yet.
    truth : dict of str to pandas.DataFrame
        What a real business never has; never part of ``tables``.

        ``truth["customers"]``, one row per customer: ``customer_id``, ``archetype``
        (steady, price_sensitive, fragile, wanderer, advocate), ``churned`` (left before
        ``as_of``), ``will_churn`` (leaves within ``horizon_days`` after ``as_of``),
        ``drifting_at_as_of`` (decided to leave and whispering, but still a customer),
        ``churned_at`` (day of leaving, also when after ``as_of``; NaT for those who stay),
        ``reason`` (competitor, price, service, needs_changed), ``silent`` (left without
        any warning), ``decided_at`` (the decision to leave), ``first_warning_at`` (when the
        whispers begin: the decision, for those who warn), ``first_signal_at`` (first
        observable whisper in the records: a drift request or a survey answer during the
        drift), ``purchase_rate`` (orders per month), ``mean_order_value``, ``subscriber``,
        ``attitude`` (how much the customer likes the firm, mean 0.3, advocates about 1.2)
        and ``promoter`` (at ``as_of`` their expected answer, before noise, rounds to 9 or
        10, whether or not they ever answer a survey).

        With ``survey``: ``truth["relationship"]``, one row per customer, the latent
        ``trust``, ``commitment``, ``satisfaction`` and ``advocacy`` (standardised),
        ``answered_survey`` and ``perceived_<attribute>`` for each attribute of the
        survey; ``truth["drivers"]``: per outcome (trust, commitment, nps, buying_more,
        staying) and attribute, the true standardised ``weight`` and its ``rank``;
        ``truth["reliability"]``: per construct the true reliability of its summed score
        among the complete responses (true-score variance over observed variance);
        ``truth["responses"]``: per response (``customer_id``, ``answered_at``,
        ``respondent``) the latent ``trust``, ``commitment`` and ``satisfaction`` at that
        moment and the ``expected_nps`` (before answer noise).

        ``truth["requests"]``, aligned with ``tables["requests"]``: ``request_id``,
        ``customer_id``, ``true_category``, ``expected_team`` (from ``CATEGORY_TEAM``),
        ``is_misrouted``, ``is_callback``, ``callback_of`` (the earlier contact it repeats),
        ``root_id`` (first contact of the chain), ``never_answered`` and ``never_resolved``
        (also after ``as_of``), ``is_whisper`` (made because the customer is drifting).

        ``truth["orders"]``, aligned with ``tables["orders"]``: ``order_id``,
        ``never_acknowledged``, ``late`` (fulfilled after the promise), ``never_followed_up``,
        ``returned``, ``during_drift``.
    start, as_of : pandas.Timestamp
        First moment and end of the observed period; no record is at or after ``as_of``.
    horizon_days : int
        The simulation runs this many days past ``as_of``, so ``truth["customers"]`` knows
        who leaves soon after it (``will_churn``) though the records stop at ``as_of``.
    seed : int
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    start: pd.Timestamp
    as_of: pd.Timestamp
    horizon_days: int
    seed: int

    def write(self, directory: str | Path, format: str = "csv") -> dict[str, Path]:
        """Write one file per non-empty table, and the truth under ``truth/``.

        Returns the path of each table written, keyed by table name (truth files are
        under ``"truth/<name>"``).
        """
        if format not in FORMATS:
            raise DataError(f"Unknown format {format!r} for Business.write.",
                            hint=f"Use one of: {', '.join(FORMATS)}.")
        directory = Path(directory)
        (directory / "truth").mkdir(parents=True, exist_ok=True)
        written = {}
        items = [(name, df) for name, df in self.tables.items() if len(df)]
        items += [(f"truth/{name}", df) for name, df in self.truth.items()]
        for name, df in items:
            path = directory / f"{name}.{format}"
            table = pa.Table.from_pandas(df, preserve_index=False)
            if format == "csv":
                from pyarrow import csv

                table = table.cast(pa.schema([
                    pa.field(f.name, pa.timestamp("s") if pa.types.is_timestamp(f.type)
                             else f.type) for f in table.schema]))
                csv.write_csv(table, path)
            else:
                import pyarrow.parquet as pq

                pq.write_table(table, path)
            written[name] = path
        return written

    def __repr__(self) -> str:
        rows = ", ".join(f"{k}={len(v):,}" for k, v in self.tables.items())
        return (f"Business(seed={self.seed}, {self.start.date()} to {self.as_of.date()}, "
                f"{rows})")


def _check(name: str, value, low: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise DataError(f"make_business: {name} must be int >= {low}; got {value!r}.",
                        hint=f"Pass {name}={low} or more.")


def make_business(n_customers: int = 2000, months: int = 24, seed: int = 0,
                  start: str = "2023-01-01", *, horizon_days: int = 90,
                  price_rise_month: int | None = None, events: bool = True,
                  survey: _relationship.SurveySettings | bool | None = None,
                  seasonal_peak: float = 0.0,
                  feedback_languages: tuple[str, ...] | None = None,
                  feedback_tone: float = 1.0, competition: float | bool = False,
                  failure_effect: float = 1.0, agent_quality: float = 0.0) -> Business:
    """Generate one coherent synthetic business and the ground truth behind it.

    Parameters
    ----------
    n_customers : int
        Customers acquired before or during the period (a third were customers before it).
    months : int
        Length of the observed period in calendar months; ``as_of`` is ``start + months``.
    seed : int
        Same seed, same business: every table is identical.
    start : str
        First day of the observed period.
    horizon_days : int
        Days simulated past ``as_of`` for the truth of who leaves next.
    price_rise_month : int, optional
        Month (0-based) of a price rise that drives price-sensitive customers away;
        by default half way through the period.
    events : bool
        Generate portal usage events for subscribers (the largest table).
    survey : SurveySettings or bool, optional
        Give every customer a latent trust and commitment that drive their behaviour
        and leaving, and generate answers to the default relationship survey in
        ``survey_answers`` (``True``: default settings). Without it ``survey_answers``
        is empty and every other table is exactly as it was.
    seasonal_peak : float
        Extra purchase rate around mid December, as a share of each customer's usual
        rate (1.5: two and a half times the usual rate at the top of the peak); 0: no
        peak (the default; the business is then unchanged).
    feedback_languages : tuple of str, optional
        Survey comments written in these languages (each customer in one of them: en,
        de, es, pt, it, pl), one to three remarks whose tone follows the score given;
        None: the default comments (the business is then unchanged).
    feedback_tone : float
        With ``feedback_languages``: how much the score decides a comment's tone (0.5:
        half the effect).
    competition : float or bool
        Leavers speak of why they go, in seven languages, in their last requests and
        survey comments: competitors by name (listed ones with aliases, misspellings and
        lower case; ``UNLISTED`` ones the firm's list lacks), prices, service, products,
        a move or closure, ended needs; the team logs exit outcomes (``touches``,
        outcome ``lost``); customers who stay name a few payment methods and carriers.
        The value is the effect (True: 1; 0.5 halves how often they speak and the exit
        notes logged). Adds ``truth["mentions"]`` (``source``, ``id``, ``customer_id``,
        ``competitor``, ``listed``, ``written``, ``topic``) and, in
        ``truth["customers"]``, ``language``, ``loss_reason`` (price, service, product,
        competitor, moved_or_closed, no_longer_needs) and ``rival``.
    failure_effect : float
        How much the failures a customer lives through (orders never acknowledged or
        late, requests unanswered, slow, unresolved or called back about) raise the
        hazard of leaving (0.5: half the effect; 1, the default, leaves the business
        unchanged).
    agent_quality : float
        The effect of each service agent's true quality (drawn once per business, in
        standard deviations): a better agent answers more often and sooner, leaves fewer
        matters unresolved (so fewer call-backs) and gets more satisfied survey answers
        about the requests they handled (0.5 halves every difference; 0: all agents
        alike, the default, and the business is then unchanged). Adds
        ``truth["agents"]`` (``agent``, ``name``, ``team``, ``quality``, ``skill`` =
        quality x effect). Whatever the value, a survey answer within 14 days after a
        request names the customer's latest one (``feedback.request_id``).

    Examples
    --------
    >>> b = make_business(n_customers=300, months=12, seed=1)
    >>> sorted(b.tables)[:3]
    ['customers', 'events', 'feedback']
    >>> bool(b.truth["customers"]["churned"].any())
    True
    """
    _check("n_customers", n_customers, 1)
    _check("months", months, 1)
    _check("seed", seed, 0)
    _check("horizon_days", horizon_days, 0)
    start_day = np.datetime64(pd.Timestamp(start).normalize().to_datetime64(), "D")
    first_month = start_day.astype("datetime64[M]")
    as_of_day = (first_month + months).astype("datetime64[D]") + (start_day - first_month)
    as_of = float((as_of_day - start_day).astype(np.int64))
    t_end = as_of + horizon_days
    n_edges = months + int(np.ceil(horizon_days / 28)) + 2
    edges = ((first_month + np.arange(n_edges)).astype("datetime64[D]")
             - start_day).astype(np.float64)
    edges[0] = min(edges[0], 0.0)
    edges = edges[: np.searchsorted(edges, t_end) + 1]
    weekday0 = int((start_day.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
    price_month = months // 2 if price_rise_month is None else price_rise_month

    # streams 9 and 10 are only drawn from with a survey, so the rest never changes
    rng = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(11)]
    c = make_customers(rng[0], n_customers, as_of, weekday0)
    settings = (_relationship.SurveySettings() if survey is True else survey) or None
    if settings is not None:
        c, latent = _relationship.draw_latents(rng[9], c, settings)

    # everything that can fail a customer, over the whole possible life
    candidates = _orders.draw_orders(rng[1], c, t_end, weekday0)
    if seasonal_peak:  # its own random stream: without a peak nothing changes
        candidates = _season.with_peak(np.random.default_rng(
            np.random.SeedSequence(seed).spawn(13)[11]), candidates, c, t_end, weekday0,
            start_day, float(seasonal_peak))
    skill = None
    if agent_quality:  # its own random stream: without it nothing changes
        quality = np.random.default_rng(
            np.random.SeedSequence(seed).spawn(15)[13]).standard_normal(len(tx.AGENT_IDS))
        quality = (quality - quality.mean()) / quality.std()
        skill = quality * float(agent_quality)
    contacts = _service.with_callbacks(
        rng[2], _service.organic(rng[2], c, t_end, weekday0, skill), weekday0, skill)
    contacts = _service.absorb_repeats(rng[2], contacts, whispers_only=False)
    order_fails, request_fails = _orders.failures(candidates, c), _service.failures(contacts)
    fails = [np.concatenate(x) for x in zip(order_fails, request_fails, strict=True)]
    load = _hazard.service_load(*fails, c.n, edges)
    del fails

    # the decision to leave, its reason, and the departure
    components = _hazard.churn_hazard(c, load, price_month, effect=float(failure_effect))
    decision, reason = _hazard.draw_decisions(rng[3], c, components, edges)
    cause = _departments.cause_departments(seed, order_fails, request_fails, c.n, edges,
                                           decision, reason)
    cause_p = _departments.cause_probabilities(order_fails, request_fails, c.n, edges,
                                               decision, components)
    del order_fails, request_fails
    departure, warned = _hazard.draw_departures(rng[3], decision, reason)
    del components
    drift = (decision, departure, warned)

    def ts(x):
        return to_timestamps(start_day, x)

    cid = ids("C", c.n, 7)

    def cust_ids(rows):
        return cid.take(pa.array(rows))

    # each table is built and its working arrays dropped before the next one
    tables, truth = {}, {}
    tables["customers"] = _customers_frame(c, cid, ts)
    tables["staff"] = contract_frame("staff", {
        "id": pa.array([sid for sid, _n, _t in tx.STAFF]),
        "name": pa.array([n for _s, n, _t in tx.STAFF]),
        "team": pa.array([t for _s, _n, t in tx.STAFF]),
        "email": pa.array([n.lower().replace(" ", ".") + "@example.com"
                           for _s, n, _t in tx.STAFF])})
    tables["subscriptions"] = _subscriptions_frame(rng[8], c, cid, ts, departure, as_of)
    orders = _orders.shape_orders(rng[4], candidates, c, *drift, as_of, weekday0)
    del candidates
    tables["orders"] = _orders_frame(orders, cust_ids, ts)
    truth["orders"] = pd.DataFrame({
        "order_id": tables["orders"]["id"],
        "never_acknowledged": orders["ack_missing"],
        "late": orders["late"],
        "never_followed_up": orders["no_follow_up"],
        "returned": orders["returned"],
        "during_drift": orders["in_drift"],
    })
    order_cust, order_t = orders["cust"], orders["t"]
    del orders
    whispers = _service.with_callbacks(
        rng[5], _service.whispers(rng[5], c, *drift, reason, weekday0, skill), weekday0, skill)
    requests = _service.absorb_repeats(rng[5], _service.merge(contacts, whispers),
                                       whispers_only=True)
    requests = _service.observe(requests, departure, as_of)
    del contacts, whispers
    _service.cite_orders(requests, order_cust, order_t)
    del order_cust, order_t
    tables["requests"] = _requests_frame(requests, cust_ids, ts, as_of)
    truth["requests"] = _request_truth(requests, tables["requests"])
    answers = _feedback.feedback(rng[6], c, load, edges, *drift, reason, as_of)
    month = int(np.clip(np.searchsorted(edges, as_of, side="right") - 1, 0, load.shape[1] - 1))
    progress = _orders.drift_progress(np.full(c.n, as_of), decision, departure, warned)
    nps_now = _feedback.expected_nps(c.attitude, load[:, month], progress)
    if settings is not None:
        rel, reliability, behind = _relationship.answers(rng[9], c, latent, load, edges, *drift,
                                                 as_of, _feedback.expected_nps,
                                                 _feedback.NPS_NOISE, settings)
        tables["survey_answers"] = contract_frame("survey_answers", {
            "id": ids("A", len(rel["t"]), 9), "customer_id": cust_ids(rel["cust"]),
            "answered_at": ts(rel["t"]), "survey": pa.array(
                np.full(len(rel["t"]), _relationship.SURVEY.name)),
            "item": pa.array(rel["item"]), "value": rel["value"],
            "text": pa.array(rel["text"], pa.string()),
            "respondent": pa.array(rel["respondent"], pa.string())})
        answered = np.zeros(c.n, dtype=bool)
        answered[rel["cust"]] = True
        truth.update(_relationship.truth_frames(latent, cid.to_pandas(), answered,
                                                settings.effect))
        truth["reliability"] = reliability
        truth["responses"] = pd.DataFrame({
            "customer_id": cust_ids(behind.pop("cust")).to_pandas(),
            "answered_at": ts(behind.pop("t")), **behind})
        del rel
    else:
        tables["survey_answers"] = contract_frame("survey_answers",
                                                  {"customer_id": pa.array([], pa.string())})
    del load
    rated = _feedback.rated_request(answers["cust"], answers["t"], requests.cust, requests.t)
    if skill is not None:  # its own random stream: without it nothing changes
        answers["satisfaction"] = _feedback.credit_agents(
            np.random.default_rng(np.random.SeedSequence(seed).spawn(15)[14]),
            answers["satisfaction"], rated, requests.agent, skill)
        truth["agents"] = pd.DataFrame({
            "agent": list(tx.AGENT_IDS),
            "name": [n for sid, n, _t in tx.STAFF if sid in tx.AGENT_IDS],
            "team": [t for sid, _n, t in tx.STAFF if sid in tx.AGENT_IDS],
            "quality": quality, "skill": skill})
    if feedback_languages:  # its own random stream: without it nothing changes
        answers["comment"] = _worded_comments(seed, feedback_languages, answers, c.n,
                                              feedback_tone)
    tables["feedback"] = contract_frame("feedback", {
        "id": ids("F", len(answers["t"]), 8), "customer_id": cust_ids(answers["cust"]),
        "answered_at": ts(answers["t"]), "nps": answers["nps"],
        "satisfaction": answers["satisfaction"], "trust": answers["trust"],
        "commitment": answers["commitment"], "comment": answers["comment"],
        "request_id": pc.if_else(pa.array(rated >= 0), pa.array(tables["requests"]["id"]).take(
            pa.array(np.maximum(rated, 0))), pa.scalar(None, pa.string()))})
    truth["customers"] = _customer_truth(c, cid, ts, decision, departure, warned, reason,
                                         requests, answers, as_of, horizon_days)
    truth["customers"]["attitude"] = np.round(c.attitude, 3)
    truth["customers"]["cause_department"] = cause
    for d, p in cause_p.items():
        truth["customers"][f"p_cause_{d}"] = p
    gone = truth["customers"]["churned_at"].where(truth["customers"]["churned"])
    truth["customers"]["revenue_lost"] = _departments.revenue_lost(
        truth["customers"]["customer_id"], gone, tables["orders"], tables["subscriptions"])
    truth["customers"]["promoter"] = nps_now >= 8.5
    if settings is not None:  # what a survey at as_of would find: P(answer 9 or 10)
        from scipy.special import ndtr

        truth["customers"]["p_promoter_answer"] = ndtr((nps_now - 8.5) / _feedback.NPS_NOISE)
    del requests, answers
    if events:
        usage = _feedback.events(rng[7], c, *drift, as_of, weekday0)
        if settings is not None:
            usage = _relationship.with_referrals(usage, _relationship.referrals(
                rng[10], c, latent, departure, as_of, weekday0, settings))
        tables["events"] = contract_frame("events", {
            "customer_id": cust_ids(usage["cust"]), "at": ts(usage["t"]),
            "type": usage["type"], "value": usage["value"]})
        del usage
    else:
        tables["events"] = contract_frame("events", {"customer_id": pa.array([], pa.string())})
    tables["touches"] = contract_frame("touches", {"customer_id": pa.array([], pa.string())})
    tables["order_lines"] = contract_frame("order_lines",
                                           {"customer_id": pa.array([], pa.string())})
    if competition:  # its own random stream: without it nothing changes
        from loyalist.datasets import _competition

        _competition.add(seed, float(competition), tables, truth, pd.Timestamp(as_of_day))
    tables = {name: tables[name] for name in TABLES}
    truth = {name: truth[name] for name in ("customers", "requests", "orders", "relationship",
                                            "drivers", "reliability", "responses", "mentions",
                                            "agents")
             if name in truth}
    return Business(tables=tables, truth=truth, start=pd.Timestamp(start_day),
                    as_of=pd.Timestamp(as_of_day), horizon_days=horizon_days, seed=seed)


def _worded_comments(seed: int, languages, answers, n_customers: int,
                     tone: float) -> pa.Array:
    """The answers' comments rewritten in the customers' languages, tone by score."""
    from loyalist.datasets import _reviews

    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(13)[12])
    has = pc.is_valid(answers["comment"]).to_numpy(zero_copy_only=False)
    score = np.where(np.isnan(answers["nps"]), 2.0 * np.nan_to_num(answers["satisfaction"],
                                                                   nan=3.5),
                     answers["nps"]) + rng.uniform(-0.5, 0.5, len(has))
    rows = np.flatnonzero(has)
    text = np.full(len(has), None, dtype=object)
    text[rows] = _reviews.comments(rng, tuple(languages), answers["cust"][rows], n_customers,
                                   score[rows], tone)
    return pa.array(text, pa.string())


def _customers_frame(c, cid, ts) -> pd.DataFrame:
    p = c.name_parts
    name = join(pick(tx.SURNAMES, p[:, 0]), " ", pick(tx.TRADES, p[:, 1]), " ",
                pick(tx.SUFFIXES, p[:, 2]))
    name = pc.utf8_rtrim_whitespace(name)
    return contract_frame("customers", {
        "id": cid, "name": name, "segment": pick(tx.SEGMENTS, c.segment),
        "created_at": ts(c.created), "owner": pick(tx.OWNER_IDS, c.owner),
    }, extra={
        "region": pick(tx.REGIONS, c.region),
        "plan": pick(tx.PLANS + ("none",), np.where(c.plan >= 0, c.plan, len(tx.PLANS))),
        "acquired_via": pick(tx.ACQUIRED_VIA, c.acquired_via),
    })


def _orders_frame(o, cust_ids, ts) -> pd.DataFrame:
    return contract_frame("orders", {
        "id": ids("O", len(o["t"]), 8), "customer_id": cust_ids(o["cust"]),
        "ordered_at": ts(o["t"]), "amount": o["amount"], "quantity": o["quantity"],
        "status": pick(_orders.STATUSES, o["status"]),
        "acknowledged_at": ts(o["acknowledged"]), "promised_at": ts(o["promised"]),
        "fulfilled_at": ts(o["fulfilled"]), "followed_up_at": ts(o["followed_up"]),
    })


def _subscriptions_frame(rng, c, cid, ts, departure, as_of) -> pd.DataFrame:
    """One row per subscription; a few subscribers changed plan once (two rows)."""
    subs = np.flatnonzero(c.subscriber)
    end = np.where(departure[subs] <= as_of, departure[subs], np.nan)
    live_end = np.where(np.isnan(end), as_of, end)
    switch = (rng.random(len(subs)) < 0.12) & (live_end - c.created[subs] > 60)
    at = c.created[subs] + (0.2 + 0.6 * rng.random(len(subs))) * (live_end - c.created[subs])
    at = np.floor(at) + 0.5
    old, mrr = c.plan[subs], c.mrr[subs]
    up = np.where(old == len(tx.PLANS) - 1, old - 1, old + 1)
    new_mrr = np.round(mrr * np.asarray(tx.PLAN_MRR)[up] / np.asarray(tx.PLAN_MRR)[old], 2)
    s = np.flatnonzero(switch)
    rows = np.concatenate([subs, subs[s]])
    return contract_frame("subscriptions", {
        "id": ids("S", len(rows), 7),
        "customer_id": cid.take(pa.array(rows)),
        "plan": pick(tx.PLANS, np.concatenate([old, up[s]])),
        "started_at": ts(np.concatenate([c.created[subs], at[s]])),
        "ended_at": ts(np.concatenate([np.where(switch, at, end), end[s]])),
        "mrr": np.concatenate([mrr, new_mrr[s]]),
    })


def _requests_frame(r, cust_ids, ts, as_of) -> pd.DataFrame:
    rid = ids("R", len(r), 8)
    link = (r.parent >= 0) & r.linked
    parent = pc.if_else(pa.array(link), rid.take(pa.array(np.maximum(r.parent, 0))),
                        pa.scalar(None, pa.string()))
    subject, text = _service.render(r)
    responded = np.where(r.responded < as_of, r.responded, np.nan)
    resolved = np.where(r.resolved < as_of, r.resolved, np.nan)
    agent = np.where(np.isnan(responded), -1, r.agent)
    return contract_frame("requests", {
        "id": rid, "customer_id": cust_ids(r.cust), "opened_at": ts(r.t),
        "channel": pick(tx.CHANNELS, r.channel), "subject": subject, "text": text,
        "category": pick(tx.CATEGORIES, r.category), "team": pick(tx.TEAMS, r.team),
        "agent": pick(tx.AGENT_IDS, np.maximum(agent, 0), missing=agent < 0),
        "first_response_at": ts(responded), "resolved_at": ts(resolved),
        "parent_id": parent,
    })


def _request_truth(r, frame: pd.DataFrame) -> pd.DataFrame:
    rid = pa.array(frame["id"])
    is_cb = r.parent >= 0
    callback_of = pc.if_else(pa.array(is_cb), rid.take(pa.array(np.maximum(r.parent, 0))),
                             pa.scalar(None, pa.string()))
    return pd.DataFrame({
        "request_id": frame["id"],
        "customer_id": frame["customer_id"],
        "true_category": frame["category"],
        "expected_team": pick(tx.TEAMS, _service.RIGHT_TEAM[r.category]).to_pandas(),
        "is_misrouted": r.misrouted,
        "is_callback": is_cb,
        "callback_of": callback_of.to_pandas(),
        "root_id": rid.take(pa.array(r.root)).to_pandas(),
        "never_answered": np.isnan(r.responded),
        "never_resolved": np.isnan(r.resolved),
        "is_whisper": r.whisper,
    })


def _customer_truth(c, cid, ts, decision, departure, warned, reason, requests, answers,
                    as_of, horizon_days) -> pd.DataFrame:
    leaves = reason >= 0
    churned = leaves & (departure <= as_of)
    will = leaves & (departure > as_of) & (departure <= as_of + horizon_days)
    started = np.where(warned, decision, np.nan)
    # first observable whisper: a drift request or a survey answer during the drift
    first = np.full(c.n, np.inf)
    w = requests.whisper
    np.minimum.at(first, requests.cust[w], requests.t[w])
    prog = _orders.drift_progress(answers["t"], decision[answers["cust"]],
                                  departure[answers["cust"]], warned[answers["cust"]])
    d = prog > 0
    np.minimum.at(first, answers["cust"][d], answers["t"][d])
    first = np.where(np.isfinite(first), first, np.nan)
    return pd.DataFrame({
        "customer_id": cid.to_pandas(),
        "archetype": pick(ARCHETYPES, c.archetype).to_pandas(),
        "churned": churned,
        "will_churn": will,
        "drifting_at_as_of": warned & (decision < as_of) & (departure >= as_of),
        "churned_at": ts(np.where(leaves, departure, np.nan)),
        "reason": pick(tx.REASONS, np.maximum(reason, 0), missing=~leaves).to_pandas(),
        "silent": leaves & ~warned,
        "decided_at": ts(np.where(leaves, decision, np.nan)),
        "first_warning_at": ts(started),
        "first_signal_at": ts(first),
        "purchase_rate": c.purchase_rate * 365.25 / 12,
        "mean_order_value": SPEND_P / c.spend_nu * c.spend_scale,
        "subscriber": c.subscriber,
    })
