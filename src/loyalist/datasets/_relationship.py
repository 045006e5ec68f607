"""The relationship behind the records: latent trust and commitment, and the answers to
the multi-item relationship survey.

Only used when ``make_business(survey=...)`` asks for it; without it the generator's
output is unchanged. The structure (all latent scores have mean 0 and variance 1 over
customers):

* each customer perceives the firm's performance on the survey's attributes
  (:data:`ATTRIBUTES`): a general impression (their attitude), the care of their
  account manager (the ``owner``, which also drives failures in the records), and
  their own noise;
* **trust** and **commitment** are weighted sums of those perceptions (:data:`TRUST_W`,
  :data:`COMMIT_W`) plus what the attributes do not explain;
* what they would tell a friend (the attitude behind every NPS answer) follows trust,
  commitment and price;
* trust makes them buy more often and spend more per order, commitment makes them use
  the portal more; both (commitment most) make them resist a competitor's pull (they
  lower that hazard of leaving);
* unhappy customers answer surveys less often, and skip more items.

:class:`SurveySettings` scales every *effect* above at once (``effect=0.5`` halves them
all); measurement (loadings, noise) and non-response keep their settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from loyalist.contract.survey import load_survey
from loyalist.datasets._common import day_time
from loyalist.datasets._customers import Customers
from loyalist.datasets._orders import drift_progress

SURVEY = load_survey()
ATTRIBUTES = tuple(SURVEY.attributes)
_A = {a: i for i, a in enumerate(ATTRIBUTES)}


def _weights(**w) -> np.ndarray:
    out = np.zeros(len(ATTRIBUTES))
    for k, v in w.items():
        out[_A[k]] = v
    return out


#: standardised effect of each attribute's perceived performance on trust and commitment
TRUST_W = _weights(responsiveness=0.6, explaining_process=0.45, order_acknowledgement=0.2,
                   follow_up=0.05, knowing_customer=0.05)
COMMIT_W = _weights(knowing_customer=0.55, staying_in_touch=0.35, follow_up=0.2, price=0.05,
                    responsiveness=0.05)
#: the attitude behind NPS answers: trust and commitment (fixed: NPS measures them), and
#: the price directly (an effect, scaled like the others)
NPS_FROM = {"trust": 0.7, "commitment": 0.25, "price": 0.6}
#: the account manager's care (from ``owner``) in each perception
CARE_W = _weights(order_acknowledgement=0.35, explaining_process=0.3, follow_up=0.35,
                  responsiveness=0.25, knowing_customer=0.35, staying_in_touch=0.35)
#: how much the general impression (attitude) colours every perception, and the constructs
HALO, GENERAL = 0.15, 0.15
#: behaviour, per unit of trust or commitment: log purchase rate, log order value,
#: log portal use, log of the competitor's pull
BUY, SPEND, USE, STAY = 1.3, 0.6, 1.0, 1.2
#: what holds a customer against a competitor's pull: mostly commitment, some trust
STAY_FROM = {"trust": 0.4, "commitment": 0.6}
#: per unit of advocacy: log rate of service requests (unhappy customers ask and
#: complain more), log rate of referrals (recorded as ``referral`` events)
COMPLAIN, REFER = 0.8, 2.4
REFERRALS_PER_MONTH = 0.05

#: measurement: per construct item (in the survey's order) mean, loading, noise (1-7)
ITEMS = {
    "trust": ([4.9, 4.7, 4.5, 4.8, 4.6], [1.1, 1.0, 0.95, 1.1, 0.75], [0.8, 0.85, 0.95, 0.8, 1.1]),
    "commitment": ([5.0, 4.8, 4.3, 4.4], [1.1, 1.0, 0.9, 0.8], [0.8, 0.85, 1.0, 1.1]),
    "satisfaction": ([5.2, 5.0, 4.6], [1.0, 0.95, 0.85], [0.7, 0.75, 0.9]),
}
#: performance items: mean per attribute; loading and noise shared
PERF_MEAN = _weights(order_acknowledgement=5.4, explaining_process=4.3, follow_up=4.1,
                     responsiveness=4.6, knowing_customer=5.0, staying_in_touch=5.3, price=4.4)
PERF_LOADING, PERF_NOISE = 1.1, 0.75
#: importance items: mean per attribute (rows) and segment (columns: SMB, mid, enterprise)
IMP_MEAN = np.array([[5.6, 5.8, 6.0], [5.8, 6.0, 6.2], [4.8, 5.2, 5.8], [6.2, 6.3, 6.4],
                     [5.0, 5.6, 6.3], [4.3, 4.6, 5.2], [6.3, 5.8, 5.0]])
IMP_TRAIT, IMP_NOISE = 0.5, 0.7
#: item non-response: base share of items skipped, extra for unhappy answers
SKIP_P, SKIP_P_UNHAPPY = 0.02, 0.05
BUSINESS_CHANGE = (
    ("We have cut back: fewer staff and fewer projects than a year ago.",
     "We lost our largest client and are buying much less.",
     "Budgets are frozen until further notice."),
    ("Much the same as last year.", "Steady; no big changes on our side.",
     "We reorganised a little but the work is the same."),
    ("We have grown and opened a second site.", "We won two large contracts this year.",
     "We are hiring and taking on more work."),
)


@dataclass(frozen=True)
class SurveySettings:
    """How the synthetic business's relationship survey is generated.

    Parameters
    ----------
    effect : float
        Multiplies every relationship effect at once: the attributes on trust,
        commitment and the NPS attitude; the account manager's care on the perceptions;
        trust and commitment on behaviour and leaving. 0.5 halves them all.
    waves : tuple of float
        When the survey goes out, as shares of the observed period.
    response : float
        Highest share of invited customers who answer (happy, willing customers).
    unhappy_answer_less : float
        Log-odds of answering per unit of (trust + commitment) / 2.
    second_contact : float
        Share of enterprise responses with a second contact (``respondent`` "user"
        besides "buyer").
    """

    effect: float = 1.0
    waves: tuple[float, ...] = (0.25, 0.55, 0.85)
    response: float = 0.85
    unhappy_answer_less: float = 0.7
    second_contact: float = 0.3

    def halved(self) -> SurveySettings:
        return dataclasses.replace(self, effect=self.effect / 2)


@dataclass
class Latent:
    """Each customer's latent relationship (standardised)."""

    perception: np.ndarray  # (n, attributes)
    trust: np.ndarray
    commitment: np.ndarray
    satisfaction: np.ndarray
    advocacy: np.ndarray  # the attitude behind NPS, standardised
    importance: np.ndarray  # (n, attributes) stable importance trait
    growth: np.ndarray  # how the customer's own business is going


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 0 else 1.0)


def _fill(lin: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """``lin`` plus as much of the unit-variance ``rest`` as keeps the variance at 1."""
    lin = lin - lin.mean()
    return lin + np.sqrt(max(1.0 - lin.var(), 0.05)) * rest


def draw_latents(rng: np.random.Generator, c: Customers, s: SurveySettings
                 ) -> tuple[Customers, Latent]:
    """The latent relationship of every customer, and the customers with its effects on
    behaviour, leaving and answering applied."""
    n, k, e = c.n, len(ATTRIBUTES), s.effect
    general = _z(c.attitude)
    care = _z(np.log(c.owner_care))
    care_w = e * CARE_W
    own = np.sqrt(np.clip(1 - HALO ** 2 - care_w ** 2, 0.05, None))
    perception = (HALO * general[:, None] + care_w[None, :] * care[:, None]
                  + own[None, :] * rng.standard_normal((n, k)))
    u = rng.standard_normal((n, 3))
    rest_t = GENERAL * general + np.sqrt(1 - GENERAL ** 2) * u[:, 0]
    rest_c = GENERAL * general + np.sqrt(1 - GENERAL ** 2) * (0.3 * u[:, 0] + np.sqrt(0.91)
                                                              * u[:, 1])
    trust = _fill(perception @ (e * TRUST_W), rest_t)
    commitment = _fill(perception @ (e * COMMIT_W), rest_c)
    lin = (NPS_FROM["trust"] * trust + NPS_FROM["commitment"] * commitment
           + e * NPS_FROM["price"] * perception[:, _A["price"]])
    advocacy = _fill(lin, GENERAL * general + np.sqrt(1 - GENERAL ** 2) * u[:, 2])
    satisfaction = _fill(0.5 * trust + 0.3 * commitment + 0.2 * advocacy,
                         rng.standard_normal(n))
    latent = Latent(perception=perception, trust=trust, commitment=commitment,
                    satisfaction=satisfaction, advocacy=advocacy,
                    importance=rng.standard_normal((n, k)), growth=rng.standard_normal(n))

    def lognormal(b, x):  # a multiplier exp(b x) with mean 1 over customers
        return np.exp(b * x - b * b / 2)

    att_mean, att_sd = c.attitude.mean(), c.attitude.std()
    frailty = c.frailty.copy()
    hold = _z(STAY_FROM["trust"] * trust + STAY_FROM["commitment"] * commitment)
    frailty[:, 0] *= lognormal(-e * STAY, hold)
    # never-responders are the less happy: the same share as before, drawn by advocacy
    responder = rng.random(n) >= expit(np.log(0.25 / 0.75) - 0.5 * advocacy)
    response = np.where(responder, rng.beta(1.2, 1.8, n), 0.0)
    c = dataclasses.replace(
        c, attitude=att_mean + att_sd * advocacy,
        purchase_rate=c.purchase_rate * lognormal(e * BUY, trust),
        spend_nu=c.spend_nu * lognormal(-e * SPEND, trust),
        usage_rate=c.usage_rate * lognormal(e * USE, commitment),
        request_rate=c.request_rate * lognormal(-e * COMPLAIN, advocacy),
        frailty=frailty, survey_response=response)
    return c, latent


def _likert(rng, mean, noise, low, high) -> np.ndarray:
    return np.clip(np.round(mean + noise * rng.standard_normal(np.shape(mean))), low, high)


def _item_moments(mean: np.ndarray, noise: float, low: float, high: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ``clip(round(mean + N(0, noise)), low, high)``: the item's
    true score and its error variance."""
    e1 = np.full(np.shape(mean), float(low))
    e2 = np.full(np.shape(mean), float(low) ** 2)
    for v in np.arange(low, high):  # X = low + sum over v of [X > v]
        above = 1.0 - ndtr((v + 0.5 - mean) / noise)
        e1 += above
        e2 += ((v + 1) ** 2 - v ** 2) * above
    return e1, e2 - e1 ** 2


def answers(rng: np.random.Generator, c: Customers, lat: Latent, load: np.ndarray,
            edges: np.ndarray, decision: np.ndarray, departure: np.ndarray,
            warned: np.ndarray, as_of: float, expected_nps, nps_noise: float, s: SurveySettings
            ) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Answers to the relationship survey in long form, and the true reliability of
    each construct among the responses given.

    Returns (columns: cust, t, item, value, text, respondent; reliability frame; the
    latent scores behind each response: cust, t, respondent, trust, commitment,
    satisfaction, expected_nps).
    """
    end = np.minimum(np.nan_to_num(departure, nan=np.inf), as_of)
    cust_l, t_l, who_l = [], [], []
    for w in s.waves:
        invite = w * as_of
        alive = np.flatnonzero((c.created < invite) & (end > invite))
        for role, share in (("buyer", 1.0), ("user", s.second_contact)):
            pool = alive if role == "buyer" else alive[(c.segment[alive] == 2)
                                                       & (rng.random(len(alive)) < share)]
            cust_l.append(pool)
            t_l.append(invite + rng.exponential(4.0, len(pool)))
            who_l.append(np.full(len(pool), 1 if role == "buyer" else 2))
    cust, t, who = np.concatenate(cust_l), np.concatenate(t_l), np.concatenate(who_l)
    t, _ = day_time(rng, t, 0, 1.0)
    month = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, load.shape[1] - 1)
    strain = np.minimum(load[cust, month], 4.0)
    progress = drift_progress(t, decision[cust], departure[cust], warned[cust])
    trust = lat.trust[cust] - 0.25 * strain
    commit = lat.commitment[cust] - 2.0 * progress
    happy = (trust + commit) / 2
    p = s.response * expit(s.unhappy_answer_less * happy + 0.2) * (c.survey_response[cust] > 0)
    keep = (rng.random(len(cust)) < p) & (t < end[cust])
    cust, t, who, trust, commit, strain, progress = (
        x[keep] for x in (cust, t, who, trust, commit, strain, progress))
    m = len(cust)
    # single-contact customers leave the respondent empty
    who = np.where(c.segment[cust] == 2, who, 0)
    sat = lat.satisfaction[cust] - 0.2 * strain - 1.0 * progress
    factors = {"trust": trust, "commitment": commit, "satisfaction": sat}
    unhappy = (trust + commit) / 2 < -1.0
    skip_p = SKIP_P + SKIP_P_UNHAPPY * unhappy

    rows_item, rows_value, rows_resp = [], [], []
    reliability = []
    for name, construct in SURVEY.constructs.items():
        mean, loading, noise = (np.asarray(x) for x in ITEMS[name])
        f = factors[name]
        values, true, error = [], [], []
        for j, code in enumerate(construct.items):
            item = SURVEY.items[code]
            mu = mean[j] + loading[j] * f
            x = _likert(rng, mu, noise[j], item.low, item.high)
            tau, err = _item_moments(mu, noise[j], item.low, item.high)
            true.append(tau)
            error.append(err)
            values.append(x)
            stored = item.low + item.high - x if item.reversed else x
            shown = rng.random(m) >= skip_p
            rows_item.append(np.full(shown.sum(), code))
            rows_value.append(stored[shown])
            rows_resp.append(np.flatnonzero(shown))
            values[-1] = np.where(shown, x, np.nan)
        total = np.sum(values, axis=0)
        complete = np.isfinite(total)
        # true-score variance over the respondents, error variance from the model (not
        # from this draw of the errors): the reliability of the scale in this population
        tau = np.sum(true, axis=0)[complete]
        err = np.sum(error, axis=0)[complete].mean()
        reliability.append({"construct": name, "items": len(construct.items),
                            "responses": int(complete.sum()),
                            "reliability": float(tau.var() / (tau.var() + err))})
    nps_lat = expected_nps(c.attitude[cust], strain, progress)
    nps = np.clip(np.round(nps_lat + rng.normal(0, nps_noise, m)), 0, 10)
    shown = rng.random(m) >= skip_p / 2
    rows_item.append(np.full(shown.sum(), SURVEY.nps))
    rows_value.append(nps[shown])
    rows_resp.append(np.flatnonzero(shown))
    seg = c.segment[cust]
    for k, attr in enumerate(SURVEY.attributes.values()):
        imp = _likert(rng, IMP_MEAN[k, seg] + IMP_TRAIT * lat.importance[cust, k], IMP_NOISE,
                      1, 7)
        perf = _likert(rng, PERF_MEAN[k] + PERF_LOADING * lat.perception[cust, k],
                       PERF_NOISE, 1, 7)
        for code, x in ((attr.importance, imp), (attr.performance, perf)):
            shown = rng.random(m) >= skip_p
            rows_item.append(np.full(shown.sum(), code))
            rows_value.append(x[shown])
            rows_resp.append(np.flatnonzero(shown))
    # check-in questions for long-standing customers
    old = np.flatnonzero(t - c.created[cust] >= SURVEY.checkin_min_tenure_days)
    g = lat.growth[cust[old]]
    text_rows = {}
    for code in SURVEY.checkin:
        item = SURVEY.items[code]
        if item.open:
            band = np.where(g < -0.7, 0, np.where(g > 0.7, 2, 1))
            pick = rng.integers(0, 3, len(old))
            answered = rng.random(len(old)) < 0.6
            text_rows[code] = (old[answered], [BUSINESS_CHANGE[b][q] for b, q in
                                               zip(band[answered], pick[answered],
                                                   strict=True)])
            continue
        extra = 0.3 * trust[old] if code == "checkin_buying" else 0.0
        x = _likert(rng, 3 + 0.6 * g + extra, 0.7, item.low, item.high)
        rows_item.append(np.full(len(old), code))
        rows_value.append(x)
        rows_resp.append(old)
    resp = np.concatenate(rows_resp)
    item = np.concatenate(rows_item)
    value = np.concatenate(rows_value).astype(np.float64)
    text = np.full(len(resp), None, dtype=object)
    for code, (r, words) in text_rows.items():
        resp = np.concatenate([resp, r])
        item = np.concatenate([item, np.full(len(r), code)])
        value = np.concatenate([value, np.full(len(r), np.nan)])
        text = np.concatenate([text, np.asarray(words, dtype=object)])
    order = np.lexsort((np.arange(len(resp)), resp))
    resp, item, value, text = resp[order], item[order], value[order], text[order]
    respondent = np.array([None, "buyer", "user"], dtype=object)[who[resp]]
    out = {"cust": cust[resp], "t": t[resp], "item": item, "value": value, "text": text,
           "respondent": respondent}
    latent = {"cust": cust, "t": t, "respondent": np.array([None, "buyer", "user"],
                                                            dtype=object)[who],
              "trust": trust, "commitment": commit, "satisfaction": sat,
              "expected_nps": nps_lat}
    return out, pd.DataFrame(reliability), latent


def referrals(rng: np.random.Generator, c: Customers, lat: Latent, departure: np.ndarray,
              as_of: float, weekday0: int, s: SurveySettings) -> dict[str, np.ndarray]:
    """Referrals a customer made (a colleague who became a lead), as ``referral`` events:
    advocates refer more."""
    from loyalist.datasets._common import poisson_times

    start = np.maximum(c.created, 0.0)
    end = np.minimum(np.nan_to_num(departure, nan=np.inf), as_of)
    b = s.effect * REFER
    rate = REFERRALS_PER_MONTH / 30.44 * np.exp(b * lat.advocacy - b * b / 2)
    cust, t = poisson_times(rng, rate, start, end)
    t, keep = day_time(rng, t, weekday0, 0.2)
    keep &= t < end[cust]
    return {"cust": cust[keep], "t": t[keep]}


def truth_frames(lat: Latent, cid: pd.Series, answered: np.ndarray, effect: float
                 ) -> dict[str, pd.DataFrame]:
    """The latent scores per customer and the true drivers of each outcome."""
    rel = pd.DataFrame({"customer_id": cid, "trust": lat.trust, "commitment": lat.commitment,
                        "satisfaction": lat.satisfaction, "advocacy": lat.advocacy,
                        "answered_survey": answered})
    for k, a in enumerate(ATTRIBUTES):
        rel[f"perceived_{a}"] = lat.perception[:, k]
    total_nps = (NPS_FROM["trust"] * effect * TRUST_W
                 + NPS_FROM["commitment"] * effect * COMMIT_W)
    total_nps[_A["price"]] += effect * NPS_FROM["price"]
    rows = []
    for outcome, w in (("trust", effect * TRUST_W), ("commitment", effect * COMMIT_W),
                       ("nps", total_nps), ("buying_more", effect * TRUST_W),
                       ("staying", effect * (STAY_FROM["trust"] * TRUST_W
                                             + STAY_FROM["commitment"] * COMMIT_W))):
        rank = np.argsort(-w, kind="stable").argsort() + 1
        rows += [{"outcome": outcome, "attribute": a, "weight": float(w[k]),
                  "rank": int(rank[k])} for k, a in enumerate(ATTRIBUTES)]
    return {"relationship": rel, "drivers": pd.DataFrame(rows)}


def with_referrals(usage: dict, ref: dict) -> dict:
    """The usage events with the referrals added, in time order."""
    import pyarrow as pa

    cust = np.concatenate([usage["cust"], ref["cust"]])
    t = np.concatenate([usage["t"], ref["t"]])
    kind = pa.concat_arrays([usage["type"], pa.array(["referral"] * len(ref["t"]))])
    value = np.concatenate([usage["value"], np.ones(len(ref["t"]))])
    order = np.argsort(t, kind="stable")
    return {"cust": cust[order], "t": t[order], "type": kind.take(pa.array(order)),
            "value": value[order]}
