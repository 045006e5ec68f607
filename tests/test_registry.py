"""One model registry: every fitted model is saved, listed and loaded the same way, with
what it was trained on; fitting from Python keeps what the CLI keeps."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import loyalist
from loyalist.datasets import make_business


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    # the generator's settings: 400 customers over 18 months
    b = make_business(n_customers=400, months=18, seed=8, events=False)
    path = tmp_path_factory.mktemp("registry") / "s.duckdb"
    with loyalist.connect(path) as s:
        for name in ("customers", "orders"):
            s.ingest(name, b.tables[name], strict=name != "customers")
    return path


def test_value_from_python_persists_like_the_cli(shop):
    from loyalist.decisions.value import value_customers

    with loyalist.connect(shop) as s:
        result = value_customers(s)
        stored = s.table("customer_value").to_pandas()
        buyers = s.table("orders").customer_id.nunique().execute()
        models = s.models("value")
        model, info = s.load_model(kind="value")
    assert len(stored) == buyers and stored["p_alive"].between(0, 1).all()
    assert (stored["model"] == result.model_name).all()
    assert models.iloc[0]["id"] == result.model_id
    assert models.iloc[0]["rows"] > 0 and models.iloc[0]["data_from"] < models.iloc[0]["data_to"]
    assert info["model"] == result.model_name and type(model) is type(result.transaction_model)


def test_models_command_lists_them(shop):
    r = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "models", "--json",
                        "--store", str(shop)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and rows[0]["kind"] == "value" and rows[0]["trained_on"]["rows"] > 0
    r = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "models", "--store",
                        str(shop)], capture_output=True, text=True, env={"COLUMNS": "80",
                                                                       "PATH": "/usr/bin"})
    assert r.returncode == 0 and "value" in r.stdout


def test_loading_what_is_not_there_says_so(tmp_path):
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        with pytest.raises(loyalist.LoyalistError, match="no churn model"):
            s.load_model(kind="churn")
        with pytest.raises(loyalist.LoyalistError, match="no model 7"):
            s.load_model(7)
