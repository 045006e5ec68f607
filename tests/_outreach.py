"""The uplift test world, set up once for the tests and benches that need it.

A synthetic business (``make_business(n_customers, months=24, seed, events=False)``)
loaded into a store, scored 120 days before its records end (horizon 90, one training
date), one discretionary playbook ``save`` (``min_p_leave``, half held out) drawn by the
worklist (seed 7), and the outreach played out by ``simulate_outreach`` (seed 3, window
90 days) with the given effects and response groups; the orders the simulation adds are
loaded and those it takes away (sleeping dogs a call woke) are never loaded: the
business's orders from the worklist's date on are loaded only after the simulation.

Used by tests/test_team.py, tests/test_team_agents.py, tests/test_team_synthetic.py,
bench/uplift_targeting.py and bench/team.py (benches put tests/ on the path).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import loyalist
from loyalist.datasets import Business, Outreach, make_business, simulate_outreach
from loyalist.datasets.outreach import HARM, LOST_CAUSE_SHARE, SLEEPING_DOG_SHARE
from loyalist.decisions.scoring import score
from loyalist.decisions.worklist import build_worklist
from loyalist.store.worklist import assignments

PLAYBOOK = """
[worklist]
use_defaults = false
window_days = 90

[[worklist.playbook]]
name = "save"
min_p_leave = {min_p_leave}
action = "Save call"
control_share = 0.5
"""
TABLES = ("customers", "subscriptions", "requests", "feedback", "staff")
#: days before the records end that the worklist is drawn
LEAD_DAYS = 120


@dataclass(frozen=True)
class World:
    """The business, the store's path, the simulated outreach and the worklist's date."""

    business: Business
    path: Path
    sim: Outreach
    as_of: pd.Timestamp

    @property
    def assignments(self) -> pd.DataFrame:
        with loyalist.connect(self.path, read_only=True) as store:
            return assignments(store).to_pandas()


def playbook(tmp: Path, min_p_leave: float = 0.05) -> Path:
    path = Path(tmp) / "pb.toml"
    path.write_text(PLAYBOOK.format(min_p_leave=min_p_leave))
    return path


def outreach_world(tmp, *, n_customers: int = 1500, seed: int = 5, uplift: float = 0.6,
                   heterogeneity: float = 0.9, agents: dict | None = None,
                   lost_cause_share: float = LOST_CAUSE_SHARE,
                   sleeping_dog_share: float = SLEEPING_DOG_SHARE, harm: float = HARM,
                   min_p_leave: float = 0.05, tables=TABLES, business: Business | None = None,
                   name: str = "s.duckdb") -> World:
    """Build the world (module docstring) in ``tmp``; ``business`` reuses one already
    generated (the other arguments of the generator are then ignored)."""
    tmp = Path(tmp)
    b = business if business is not None else make_business(
        n_customers=n_customers, months=24, seed=seed, events=False)
    as_of = b.as_of - pd.Timedelta(days=LEAD_DAYS)
    path = tmp / name
    orders = b.tables["orders"]
    # the store up to the worklist does not depend on the outreach: built once per
    # business and copied (the multi-seed runs simulate twice on each)
    base = tmp / (f"base_{b.seed}_{len(b.tables['customers'])}_{len(orders)}_"
                  f"{'-'.join(tables)}_"
                  f"{min_p_leave}.duckdb")
    if not base.exists():
        with loyalist.connect(base) as store:
            for t in tables:
                store.ingest(t, b.tables[t])
            store.ingest("orders", orders[orders["ordered_at"] < as_of])
            score(store, as_of, horizon=90, n_train_dates=1)
            build_worklist(store, as_of, playbooks=playbook(tmp, min_p_leave), seed=7)
    shutil.copyfile(base, path)
    with loyalist.connect(path) as store:
        a = assignments(store).to_pandas()
        sim = simulate_outreach(b, a, {"save": uplift}, window_days=90, seed=3,
                                heterogeneity=heterogeneity, agents=agents,
                                lost_cause_share=lost_cause_share,
                                sleeping_dog_share=sleeping_dog_share, harm=harm)
        later = sim.business_orders(b)
        store.ingest("orders", later[later["ordered_at"] >= as_of])
        store.ingest("orders", sim.orders)
        store.ingest("touches", sim.touches)
    return World(business=b, path=path, sim=sim, as_of=as_of)


def units_with_truth(world: World) -> pd.DataFrame:
    """The hold-out units of the world (``loyalist.team.targeting.uplift_units`` at the
    records' end) with the simulation's truth per unit."""
    from loyalist.team.targeting import uplift_units

    with loyalist.connect(world.path, read_only=True) as store:
        units = uplift_units(store, world.business.as_of, 90)
    truth = world.sim.truth[["customer_id", "playbook", "would_lapse", "p_keep", "p_harm",
                             "group", "effect_multiplier", "expected_effect"]]
    return units.merge(truth, on=["customer_id", "playbook"])


def saves_over_risk(units: pd.DataFrame, rank, *, top: float = 0.3, seed: int = 0,
                    n_boot: int = 500) -> tuple[float, float, float]:
    """Expected net saves (the truth's ``expected_effect``: would lapse x P(keep), minus
    P(harm)) of the top ``top`` of the units by ``rank``, over those of the top by
    P(leave) (the risk ranking), with a 95% bootstrap interval (customers resampled by
    Poisson weights, the two selections held)."""
    k = int(top * len(units))
    ek = units["expected_effect"].to_numpy()
    by_rank = np.argsort(-np.asarray(rank, dtype=float), kind="stable")[:k]
    by_risk = np.argsort(-units["p_leave"].to_numpy(), kind="stable")[:k]
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        w = rng.poisson(1.0, len(units))
        boot.append((w[by_rank] * ek[by_rank]).sum()
                    / max((w[by_risk] * ek[by_risk]).sum(), 1e-9))
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(ek[by_rank].sum() / ek[by_risk].sum()), float(lo), float(hi)


def cross_fitted(units: pd.DataFrame, fit_predict) -> np.ndarray:
    """``fit_predict(train_rows, test_rows)`` on two halves of the customers (by a hash
    of their id), each half predicted by the model fitted on the other."""
    fold = pd.util.hash_pandas_object(units["customer_id"], index=False).to_numpy() % 2
    out = np.zeros(len(units))
    for f in (0, 1):
        out[fold == f] = fit_predict(fold != f, fold == f)
    return out


def learner_and_ceiling(units: pd.DataFrame, seed: int = 0):
    """Cross-fitted predictions of the default X-learner (from the outcomes) and of the
    ceiling: a regression of the truth's ``expected_effect`` on the same features (the
    best ranking a learner could make from them)."""
    from loyalist.team.targeting import matrix
    from loyalist.team.uplift import XLearnerUplift, _default_regressor

    X, _ = matrix(units)
    y, t = units["retained"].to_numpy(dtype=float), units["treated"].to_numpy()
    ek = units["expected_effect"].to_numpy()
    s = cross_fitted(units, lambda tr, te: XLearnerUplift(random_state=seed).fit(
        X[tr], y[tr], t[tr]).predict_uplift(X[te]))
    c = cross_fitted(units, lambda tr, te: _default_regressor(seed).fit(
        X[tr], ek[tr]).predict(X[te]))
    return s, c
