"""Churn on a customer table: the churn model against default LightGBM and a logistic
regression, same folds, same run, with the time each took.

    python bench/churn_table.py               # IBM Telco and the interaction tables
    python bench/churn_table.py --rows 10000

Data: IBM Telco (``../shared/data``, 7,043 customers, label ``Churn`` Yes/No) and
``make_churn_table`` (leaving depends on combinations of columns, label
``Attrited Customer``/``Existing Customer``, an id, a constant and an empty column),
seeds 1-3, effects full and halved. Each model is cross-validated on 5 stratified
folds; CPU seconds are this process's (the steadier figure on a shared machine).
LightGBM runs with its default settings, once on one thread and once on its default
threads; the time target is at most twice LightGBM's.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from loyalist.datasets.tables import make_churn_table
from loyalist.models.snapshot import labelled_table, snapshot_cv

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def lightgbm_threads(table, label: str, folds: int = 5) -> tuple[float, float, float]:
    """Default LightGBM on its default threads: ROC AUC, CPU and wall seconds."""
    from lightgbm import LGBMClassifier

    t = labelled_table(table, label)
    X = t.X.drop(columns=["customer_id"])
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    y = t.y.astype(int)
    pred = np.empty(len(y))
    cpu, wall = time.process_time(), time.perf_counter()
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
        m = LGBMClassifier(verbose=-1, random_state=0).fit(X.iloc[tr], y.iloc[tr])
        pred[te] = m.predict_proba(X.iloc[te])[:, 1]
    return roc_auc_score(y, pred), time.process_time() - cpu, time.perf_counter() - wall


def run(name: str, table, label: str) -> dict:
    wall = time.perf_counter()
    res = snapshot_cv(table, label)
    wall = time.perf_counter() - wall
    cmp = res.comparison
    auc_mt, cpu_mt, wall_mt = lightgbm_threads(table, label)
    print(f"\n== {name}: {int(cmp.loc['model', 'customers']):,} rows, "
          f"{cmp.loc['model', 'base_rate']:.1%} left")
    print(cmp[["roc_auc", "pr_auc", "brier", "cpu_seconds"]].round(4).to_string())
    print(f"lightgbm, default threads: ROC AUC {auc_mt:.4f}, {cpu_mt:.1f} CPU s, "
          f"{wall_mt:.1f} s wall")
    b = res.bootstrap
    for base, r in b.iterrows():
        print(f"  model - {base:9} ROC AUC {r.difference:+.4f} [{r.low:+.4f}, {r.high:+.4f}]")
    ratio = cmp.loc["model", "cpu_seconds"] / cmp.loc["lightgbm", "cpu_seconds"]
    load = os.getloadavg()[0]
    print(f"model CPU time = {ratio:.2f}x LightGBM's (one thread), "
          f"{cmp.loc['model', 'cpu_seconds'] / cpu_mt:.2f}x LightGBM's (default threads); "
          f"the whole cross-validation with both peers {wall:.0f} s wall; "
          f"load average {load:.1f}")
    return {"data": name, **{k: cmp.loc[k, "roc_auc"] for k in cmp.index},
            **{f"vs {k}": f"{r.difference:+.4f} [{r.low:+.4f}, {r.high:+.4f}]"
               for k, r in b.iterrows()},
            "time_vs_lightgbm": ratio, "load": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    telco = pd.read_csv(DATA / "ibm_telco_churn" / "Telco-Customer-Churn.csv")
    telco["TotalCharges"] = pd.to_numeric(telco["TotalCharges"], errors="coerce")
    rows = [run("IBM Telco", telco, "Churn")]
    for effects in (1.0, 0.5):
        for seed in args.seeds:
            table, _ = make_churn_table(args.rows, seed=seed, effects=effects)
            rows.append(run(f"interactions, effects {effects}, seed {seed}", table,
                            "Attrition_Flag"))
    print("\nSummary (5-fold ROC AUC; model minus each peer with its 95% paired bootstrap "
          "interval; model CPU time / LightGBM's on one thread, same folds, same run; "
          "load average after each table, 2 cores)")
    print(pd.DataFrame(rows).round(4).to_string(index=False))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
