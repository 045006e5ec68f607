"""``score(train_customers=N)``: the churn model learns from a random sample of customers
(filtered in the engine, the same draw every time) and everyone active is still scored,
so a business of millions of customers fits in the driver (docs/scale.md).

Synthetic business: 1,500 customers, 24 months, seed 3, no events."""

from __future__ import annotations

import pandas as pd
import pytest

import loyalist
from loyalist.cli.main import main
from loyalist.datasets import make_business
from loyalist.decisions.scoring import score
from loyalist.errors import DataError
from loyalist.models.early_warning import design, sample_customers


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    b = make_business(n_customers=1500, months=24, seed=3, events=False)
    path = tmp_path_factory.mktemp("sample") / "s.duckdb"
    with loyalist.connect(path) as s:
        s.ingest("customers", b.tables["customers"])
        s.ingest("orders", b.tables["orders"])
    return path


def test_the_sample_is_drawn_once_and_filtered_in_the_engine(shop):
    with loyalist.connect(shop) as s:
        one = sample_customers(s, "lapse", 300).to_pandas()["customer_id"]
        two = sample_customers(s, "lapse", 300).to_pandas()["customer_id"]
        everyone = s.table("orders").customer_id.nunique().execute()
        assert sample_customers(s, "lapse", everyone) is None  # no fewer: no sample
        d = s.table("orders").ordered_at.max().execute()
        X = design(s, [d - pd.Timedelta(days=200)], mode="lapse",
                   horizon=90, customers=sample_customers(s, "lapse", 300))
    assert len(one) == 300 and one.is_unique and one.tolist() == two.tolist()
    assert everyone > 1000
    assert 0 < X["customer_id"].nunique() <= 300
    assert set(X["customer_id"]) <= set(one)
    assert X["left"].nunique() == 2  # labels of the sampled customers came with them


def test_trained_on_a_sample_everyone_is_scored(shop):
    with loyalist.connect(shop) as s:
        full = score(s, horizon=90)
        part = score(s, horizon=90, train_customers=300)
        rows = s.models("churn").set_index("id")["rows"]
    assert sorted(part.scores["customer_id"]) == sorted(full.scores["customer_id"])
    # one row per sampled customer active at each training date (at most seven dates)
    assert 0 < rows[part.model_id] <= 300 * 7
    assert rows[part.model_id] < rows[full.model_id] / 2
    assert any("random sample of 300 customers" in n for n in part.notes)
    # a smaller sample learns the same ordering in the main: risky customers stay risky
    both = full.scores.merge(part.scores, on="customer_id")
    assert both["p_leave_x"].corr(both["p_leave_y"], method="spearman") > 0.8


def test_a_sample_too_small_is_refused(shop, capsys):
    with loyalist.connect(shop) as s, pytest.raises(DataError, match="at least 100"):
        score(s, horizon=90, train_customers=10)
    assert main(["score", "--train-customers", "10", "--store", str(shop)]) != 0
    err = capsys.readouterr().err
    assert "at least 100" in err and "Traceback" not in err
