"""Why uplift ranking does not save 25% more customers than risk ranking on the simulated
outreach: the ceiling a perfect learner could reach, beside the learner.

    python bench/uplift_targeting.py --customers 3000

Same settings as tests/test_team_synthetic.py (make_business seeds 0-2, scored 120 days
before the end, one playbook "save" with min_p_leave 0.05 and half held out,
simulate_outreach uplift 0.6 and halved 0.3, heterogeneity 0.9). For each run it prints
the outcomes per arm, the true and the observed average effect, and the expected saves
of the top 30% (would lapse x true P(the contact keeps them)) of each ranking over the
risk ranking's (P(leave)):

- ``realised``: ranked by the realised truth (who did lapse): not attainable, it knows
  the future (the "1.93x" first reported);
- ``ceiling``: P(lapse | features) learned from the truth itself (cross-fitted) times the
  true P(keep | features): the best any ranking on these features can do;
- ``m x risk``: the worklist's P(leave) times the true effect multiplier;
- ``x-learner``: the default XLearnerUplift, cross-fitted on two halves.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import loyalist
from loyalist.datasets import make_business, simulate_outreach
from loyalist.decisions.scoring import score
from loyalist.decisions.worklist import build_worklist
from loyalist.team.targeting import matrix, uplift_units
from loyalist.team.uplift import XLearnerUplift, _default_classifier

PLAYBOOK = """
[worklist]
use_defaults = false
window_days = 90

[[worklist.playbook]]
name = "save"
min_p_leave = 0.05
action = "Save call"
control_share = 0.5
"""


def units_with_truth(tmp: Path, n: int, seed: int, uplift: float) -> pd.DataFrame:
    b = make_business(n_customers=n, months=24, seed=seed, events=False)
    store = loyalist.connect(tmp / f"s{seed}_{uplift}.duckdb")
    for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
        store.ingest(name, b.tables[name])
    as_of = b.as_of - pd.Timedelta(days=120)
    score(store, as_of, horizon=90, n_train_dates=1)
    (tmp / "pb.toml").write_text(PLAYBOOK)
    build_worklist(store, as_of, playbooks=tmp / "pb.toml", seed=7)
    a = store.raw.execute("SELECT * FROM _loyalist_assignments").df()
    sim = simulate_outreach(b, a, {"save": uplift}, window_days=90, seed=3,
                            heterogeneity=0.9)
    store.ingest("orders", sim.orders)
    store.ingest("touches", sim.touches)
    units = uplift_units(store, b.as_of, 90)
    store.close()
    return units.merge(sim.truth[["customer_id", "playbook", "would_lapse", "p_keep",
                                  "effect_multiplier"]], on=["customer_id", "playbook"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--top", type=float, default=0.3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_uplift_"))
    for seed in (0, 1, 2):
        for uplift in (0.6, 0.3):
            d = units_with_truth(tmp, args.customers, seed, uplift)
            X, _ = matrix(d)
            y, t = d["retained"].to_numpy(dtype=float), d["treated"].to_numpy()
            fold = pd.util.hash_pandas_object(d["customer_id"], index=False).to_numpy() % 2
            ek = (d["would_lapse"] * d["p_keep"]).to_numpy()
            lapse, s = np.zeros(len(d)), np.zeros(len(d))
            for f in (0, 1):
                tr, te = fold != f, fold == f
                m = _default_classifier(0).fit(X[tr], d["would_lapse"].to_numpy()[tr])
                lapse[te] = m.predict_proba(X[te])[:, 1]
                s[te] = XLearnerUplift().fit(X[tr], y[tr], t[tr]).predict_uplift(X[te])
            k = int(args.top * len(d))

            def saves(rank, ek=ek, k=k):
                return ek[np.argsort(-rank, kind="stable")[:k]].sum()

            risk = saves(d["p_leave"].to_numpy())
            ratios = {"realised": saves(ek),
                      "ceiling": saves(lapse * d["p_keep"].to_numpy()),
                      "m x risk": saves(d["p_leave"].to_numpy()
                                        * d["effect_multiplier"].to_numpy()),
                      "x-learner": saves(s)}
            print(f"seed {seed} uplift {uplift}: {int(t.sum())} treated / "
                  f"{int((1 - t).sum())} held out, true effect {ek.mean():.3f}, observed "
                  f"{y[t == 1].mean() - y[t == 0].mean():.3f}; top {args.top:.0%} saves "
                  "over risk ranking: " + ", ".join(f"{n} {r / risk:.2f}x"
                                                      for n, r in ratios.items()),
                  flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
