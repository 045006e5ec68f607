"""Churn on a customer table: any two-valued label, tables without an id, columns that
teach nothing, every way in (Python, ``score --label``, ``backtest --label``), and
accuracy against default LightGBM and a logistic regression on the same folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyalist
from loyalist.cli.main import main
from loyalist.datasets.tables import make_churn_table
from loyalist.errors import DataError
from loyalist.features.labels import label_values
from loyalist.models.snapshot import labelled_table, read_table, score_table, snapshot_cv


@pytest.mark.parametrize("values, leaving", [
    (("Attrited Customer", "Existing Customer"), "Attrited Customer"),
    (("Existing Customer", "Attrited Customer"), "Attrited Customer"),
    (("Yes", "No"), "Yes"), ((1, 0), 1), ((True, False), True), (("churned", "active"),
                                                                    "churned"),
    (("Stayed", "Exited"), "Exited"), (("retained", "lost"), "lost"),
])
def test_two_valued_labels_are_understood(values, leaving):
    counts = pd.Series([5, 3], index=list(values))
    assert label_values(counts, "label")[0] == leaving


def test_labels_that_do_not_say_are_refused_with_the_values_found():
    with pytest.raises(DataError, match=r"Which value of 'grp' means leaving\? Found 'A' "
                                        r"\(5\), 'B' \(3\)") as e:
        label_values(pd.Series([5, 3], index=["A", "B"]), "grp")
    assert "--positive" in e.value.hint
    assert label_values(pd.Series([5, 3], index=["A", "B"]), "grp", positive="b")[0] == "B"
    with pytest.raises(DataError, match="found 3: 'x' \\(1\\), 'y' \\(1\\), 'z' \\(1\\)"):
        label_values(pd.Series([1, 1, 1], index=["x", "y", "z"]), "grp")
    with pytest.raises(DataError, match="is not a value of"):
        label_values(pd.Series([5, 3], index=["A", "B"]), "grp", positive="C")


def test_table_without_id_constant_and_empty_columns(tmp_path):
    table, _ = make_churn_table(1500, seed=4, id_column=None)
    path = tmp_path / "cards.csv"
    table.to_csv(path, index=False)
    frame = read_table(path)
    t = labelled_table(frame, "attrition_flag")  # the file's name, matched loosely
    assert t.label == "Attrition_Flag" and t.leaving == "Attrited Customer"
    assert t.X["customer_id"].iloc[0] == "row 1" and t.X["customer_id"].is_unique
    assert any("no id column" in n for n in t.notes)
    res = snapshot_cv(t, folds=3, peers=False)
    notes = " ".join(res.notes)
    assert "Country (constant)" in notes and "Notes (empty)" in notes
    assert "Country" not in res.model.feature_names_
    # an id column is found and never used as a feature
    with_id, _ = make_churn_table(600, seed=5)
    t2 = labelled_table(with_id, "Attrition_Flag")
    assert t2.X["customer_id"].iloc[0] == str(with_id["CLIENTNUM"].iloc[0])
    # rows without a label are scored, not learnt from
    with_id.loc[:49, "Attrition_Flag"] = None
    ts = score_table(with_id, "Attrition_Flag", folds=3)
    assert ts.scores["p_leave"].notna().all() and (~ts.scores["out_of_fold"]).sum() == 50


def test_every_way_in(tmp_path, capsys):
    table, _ = make_churn_table(1200, seed=6)
    path = tmp_path / "cards.csv"
    table.drop(columns=["CLIENTNUM"]).to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    assert main(["score", "--table", str(path), "--label", "Attrition_Flag", "--out",
                 str(out), "--top", "3"]) == 0
    shown = capsys.readouterr().out
    assert "'Attrited Customer' = left" in shown and "row " in shown
    scores = pd.read_csv(out)
    assert len(scores) == 1200 and scores["top_reason"].notna().any()
    assert main(["backtest", "--table", str(path), "--label", "Attrition_Flag", "--folds",
                 "3", "--out", str(tmp_path / "bt")]) == 0
    shown = capsys.readouterr().out
    assert "lightgbm" in shown and "logistic" in shown and "Reliability" in shown
    # a label in words that do not say which is leaving: refused, values named
    table.assign(grp=np.where(table["Attrition_Flag"].str.startswith("A"), "A", "B")).to_csv(
        tmp_path / "ab.csv", index=False)
    assert main(["score", "--table", str(tmp_path / "ab.csv"), "--label", "grp"]) == 1
    err = capsys.readouterr().err
    assert "Found 'B'" in err and "--positive" in err and "Traceback" not in err
    # the store's customers table, with the label among its columns
    db = tmp_path / "s.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("customers", table, mapping={"id": "CLIENTNUM"})
    assert main(["score", "--label", "attrition_flag", "--store", str(db), "--top", "3"]) == 0
    assert "'attrition_flag'" in capsys.readouterr().out.replace("\n", " ")
    with loyalist.connect(db, read_only=True) as s:
        saved = s.table("scores").to_pandas()
        reasons = s.table("reasons").to_pandas()
    assert len(saved) == 1200 and saved["model_id"].nunique() == 1
    assert not reasons["text"].str.contains("_").any()
    assert main(["backtest", "--label", "attrition_flag", "--store", str(db), "--folds", "3",
                 "--out", str(tmp_path / "bt2")]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("effects", [1.0, 0.5])
def test_strong_interactions_and_telco_beside_the_peers(effects):
    """Generator: make_churn_table(8000, seed) for seeds 1-3, effects 1 and halved; the
    model's 5-fold ROC AUC is at least default LightGBM's and the logistic
    regression's on the same folds."""
    for seed in (1, 2, 3):
        table, _ = make_churn_table(8000, seed=seed, effects=effects)
        res = snapshot_cv(table, "Attrition_Flag", bootstrap=0)
        cmp = res.comparison
        print(f"effects {effects}, seed {seed}: " + ", ".join(
            f"{k} {v:.4f} ({cmp.loc[k, 'cpu_seconds']:.1f} CPU s)"
            for k, v in cmp["roc_auc"].items()))
        assert cmp.loc["model", "roc_auc"] >= cmp.loc["lightgbm", "roc_auc"]
        assert cmp.loc["model", "roc_auc"] >= cmp.loc["logistic", "roc_auc"]
