"""Does uplift ranking save 25% more customers than risk ranking on the simulated
outreach? The learner beside the ceiling a perfect learner could reach, with and without
the response groups.

    python bench/uplift_targeting.py --customers 3000

The world is tests/_outreach.py's (the slow test's): make_business seeds 0-2 (3,000
customers, 24 months, no events), scored 120 days before the end, one playbook "save"
with min_p_leave 0.05 and half held out, simulate_outreach heterogeneity 0.9 with

- ``groups``: the default response groups (``LOST_CAUSE_SHARE``, ``SLEEPING_DOG_SHARE``)
  and effects uplift 0.6, harm ``HARM``; halved: uplift 0.3, harm ``HARM / 2`` (the
  shares are facts about the customers and stay);
- ``no groups``: both shares and the harm 0 (the simulation as it was before the groups):
  uplift 0.6, halved 0.3.

For each run: the units, the response groups, the true average effect and the observed
one, and the expected net saves (the truth's ``expected_effect``: would lapse x P(keep)
minus P(harm)) of the top 30% of each ranking over the risk ranking's (P(leave)), with a
95% bootstrap interval:

- ``x-learner``: the default XLearnerUplift, cross-fitted on two halves;
- ``ceiling``: the truth's ``expected_effect`` learned from the same features (cross-
  fitted): the best ranking a learner could make from them;
- ``oracle``: the truth's ``expected_effect`` itself, unattainable (it knows who lapses).

With ``--peers``, learners measured beside the X-learner (cross-fitted the same way; not
in the product): an R-learner with the known propensity (ridge on the standardised
features), the same scaled by P(leave) (the effect as P(leave) x a persuadability), the
mean of the X-learner and that one; and ``rule``: the generator's own heterogeneity rule
(0.1 + 0.9 x a request in 90 days + 0.6 x a year of tenure) times P(leave), a diagnostic
of what these features allow when the rule is known (no learner knows it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _outreach import (  # noqa: E402
    cross_fitted,
    learner_and_ceiling,
    outreach_world,
    saves_over_risk,
    units_with_truth,
)
from loyalist.datasets import make_business  # noqa: E402
from loyalist.datasets.outreach import HARM  # noqa: E402
from loyalist.team.targeting import matrix  # noqa: E402
from loyalist.team.uplift import XLearnerUplift, _default_classifier  # noqa: E402

# -- peers of the X-learner (measured here, not in the product; docs/team.md) ----------

class RLearner:
    """The R-learner with the known propensity (the hold-out share): the outcome centred
    on a cross-fitted pooled outcome model, times (t - e) / (e (1 - e)), regressed by a
    ridge (alpha 100) on the standardised features. ``risk_scaled``: the effect is
    P(leave) x a persuadability the ridge learns (target divided by P(leave), weights
    P(leave)^2), so a customer who would stay anyway is not ranked high."""

    def __init__(self, risk_scaled: bool = False, seed: int = 0, alpha: float = 100.0):
        self.risk_scaled, self.seed, self.alpha = risk_scaled, seed, alpha

    def _z(self, X):
        return np.clip((np.where(np.isnan(X), self.fill_, X) - self.mu_) / self.sd_, -5, 5)

    def fit(self, X, y, t):
        from sklearn.linear_model import Ridge

        e = t.mean()
        fold = np.random.default_rng(self.seed).permutation(len(y)) % 2
        m = np.zeros(len(y))
        for f in (0, 1):
            m[fold == f] = _default_classifier(self.seed).fit(
                X[fold != f], y[fold != f]).predict_proba(X[fold == f])[:, 1]
        target, w = (t - e) / (e * (1 - e)) * (y - m), np.ones(len(y))
        if self.risk_scaled:
            p = np.clip(X[:, 0], 0.02, 1.0)  # column 0 is P(leave) (targeting.NUMERIC)
            target, w = target / p, p ** 2
        self.fill_ = np.nan_to_num(np.nanmedian(X, axis=0))
        filled = np.where(np.isnan(X), self.fill_, X)
        self.mu_, self.sd_ = filled.mean(0), filled.std(0) + 1e-12
        self.ridge_ = Ridge(alpha=self.alpha).fit(self._z(X), target, sample_weight=w)
        return self

    def predict_uplift(self, X):
        g = self.ridge_.predict(self._z(X))
        return g * X[:, 0] if self.risk_scaled else g


class Blend:
    """The mean of the X-learner's uplift and the risk-scaled R-learner's."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, X, y, t):
        self.parts_ = [XLearnerUplift(random_state=self.seed).fit(X, y, t),
                       RLearner(True, self.seed).fit(X, y, t)]
        return self

    def predict_uplift(self, X):
        return np.mean([p.predict_uplift(X) for p in self.parts_], axis=0)


PEERS = {"x-learner": lambda s: XLearnerUplift(random_state=s),
         "r-learner": lambda s: RLearner(False, s),
         "r-learner x risk": lambda s: RLearner(True, s),
         "x + r x risk": Blend}


SETTINGS = {"groups": {}, "no groups": {"lost_cause_share": 0.0, "sleeping_dog_share": 0.0}}


def run(tmp: Path, b, label: str, uplift: float, harm: float, extra: dict,
        peers: bool = False) -> dict:
    w = outreach_world(tmp, business=b, uplift=uplift, harm=harm, heterogeneity=0.9,
                       name=f"{label.replace(' ', '_')}_{b.seed}_{uplift}.duckdb",
                       **SETTINGS[label], **extra)
    u = units_with_truth(w)
    s, c = learner_and_ceiling(u)
    t = u["treated"].to_numpy() == 1
    y = u["retained"].to_numpy(dtype=float)
    out = {"units": len(u), "groups": u["group"].value_counts().to_dict(),
           "true": u["expected_effect"].mean(), "observed": y[t].mean() - y[~t].mean(),
           "x-learner": saves_over_risk(u, s, seed=b.seed),
           "ceiling": saves_over_risk(u, c, seed=b.seed),
           "oracle": saves_over_risk(u, u["expected_effect"], seed=b.seed, n_boot=50)}
    if peers:
        X, _ = matrix(u)
        tt = u["treated"].to_numpy()
        for name, make in PEERS.items():
            cpu = time.process_time()
            p = cross_fitted(u, lambda tr, te, make=make: make(0).fit(
                X[tr], y[tr], tt[tr]).predict_uplift(X[te]))
            if name != "x-learner":  # the same cross-fit as above: timed only
                out[name] = saves_over_risk(u, p, seed=b.seed)
            out[f"{name} cpu"] = time.process_time() - cpu
        rule = u["p_leave"] * (0.1 + 0.9 * (u["requests_90d"] > 0)
                               + 0.6 * (u["tenure_days"] > 365))
        out["rule"] = saves_over_risk(u, rule.to_numpy(), seed=b.seed)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lost-cause-share", type=float, default=None)
    ap.add_argument("--sleeping-dog-share", type=float, default=None)
    ap.add_argument("--harm", type=float, default=HARM)
    ap.add_argument("--only", choices=list(SETTINGS), default=None)
    ap.add_argument("--peers", action="store_true",
                    help="also the R-learners, their blend with the X-learner and the rule")
    args = ap.parse_args()
    extra = {k: v for k, v in (("lost_cause_share", args.lost_cause_share),
                               ("sleeping_dog_share", args.sleeping_dog_share))
             if v is not None}
    tmp = Path(tempfile.mkdtemp(prefix="bench_uplift_"))
    t0 = time.perf_counter()
    for seed in args.seeds:
        b = make_business(n_customers=args.customers, months=24, seed=seed, events=False)
        for label in [args.only] if args.only else list(SETTINGS):
            for scale in (1.0, 0.5):
                harm = args.harm * scale if label == "groups" else 0.0
                r = run(tmp, b, label, 0.6 * scale, harm,
                        extra if label == "groups" else {}, args.peers)
                g = ", ".join(f"{k} {v}" for k, v in sorted(r["groups"].items()))
                fig = "; ".join(f"{k} {r[k][0]:.2f}x ({r[k][1]:.2f}-{r[k][2]:.2f})"
                                for k in ("x-learner", "ceiling", *(
                                    [*list(PEERS)[1:], "rule"] if args.peers else [])))
                print(f"seed {seed} {label:9s} uplift {0.6 * scale:.2f} harm {harm:.3f}: "
                      f"{r['units']} units ({g}); true effect {r['true']:.3f}, observed "
                      f"{r['observed']:.3f}; top 30% net saves over risk ranking: {fig}; "
                      f"oracle {r['oracle'][0]:.2f}x", flush=True)
                if args.peers:
                    print("  fit CPU (two cross-fitted fits and predictions): " + ", ".join(
                        f"{k} {r[f'{k} cpu']:.2f} s" for k in PEERS), flush=True)
    print(f"{time.perf_counter() - t0:.0f} s; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
