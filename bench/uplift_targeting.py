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
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _outreach import (  # noqa: E402
    learner_and_ceiling,
    outreach_world,
    saves_over_risk,
    units_with_truth,
)
from loyalist.datasets import make_business  # noqa: E402
from loyalist.datasets.outreach import HARM  # noqa: E402

SETTINGS = {"groups": {}, "no groups": {"lost_cause_share": 0.0, "sleeping_dog_share": 0.0}}


def run(tmp: Path, b, label: str, uplift: float, harm: float, extra: dict) -> dict:
    w = outreach_world(tmp, business=b, uplift=uplift, harm=harm, heterogeneity=0.9,
                       name=f"{label.replace(' ', '_')}_{b.seed}_{uplift}.duckdb",
                       **SETTINGS[label], **extra)
    u = units_with_truth(w)
    s, c = learner_and_ceiling(u)
    t = u["treated"].to_numpy() == 1
    y = u["retained"].to_numpy(dtype=float)
    return {"units": len(u), "groups": u["group"].value_counts().to_dict(),
            "true": u["expected_effect"].mean(), "observed": y[t].mean() - y[~t].mean(),
            "x-learner": saves_over_risk(u, s, seed=b.seed),
            "ceiling": saves_over_risk(u, c, seed=b.seed),
            "oracle": saves_over_risk(u, u["expected_effect"], seed=b.seed, n_boot=50)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lost-cause-share", type=float, default=None)
    ap.add_argument("--sleeping-dog-share", type=float, default=None)
    ap.add_argument("--harm", type=float, default=HARM)
    ap.add_argument("--only", choices=list(SETTINGS), default=None)
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
                        extra if label == "groups" else {})
                g = ", ".join(f"{k} {v}" for k, v in sorted(r["groups"].items()))
                fig = "; ".join(f"{k} {r[k][0]:.2f}x ({r[k][1]:.2f}-{r[k][2]:.2f})"
                                for k in ("x-learner", "ceiling"))
                print(f"seed {seed} {label:9s} uplift {0.6 * scale:.2f} harm {harm:.3f}: "
                      f"{r['units']} units ({g}); true effect {r['true']:.3f}, observed "
                      f"{r['observed']:.3f}; top 30% net saves over risk ranking: {fig}; "
                      f"oracle {r['oracle'][0]:.2f}x", flush=True)
    print(f"{time.perf_counter() - t0:.0f} s; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
