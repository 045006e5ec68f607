"""``make_churn_table``: a labelled customer table whose leaving depends on interactions.

Public churn tables (bank customers, credit-card holders, telecom subscribers, shop
accounts) are one row per customer with a churn label. Where leaving depends on
combinations of columns (few transactions *and* a falling count; no revolving balance
*and* months of inactivity), trees beat a logistic regression by a wide margin. This
generator makes such a table, with the quirks of real exports: a two-valued label in
words, an identifier column (or none), a constant column and an empty one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.errors import DataError

EDUCATION = ("Uneducated", "High School", "College", "Graduate", "Post-Graduate",
             "Doctorate", "Unknown")
INCOME = ("Less than $40K", "$40K - $60K", "$60K - $80K", "$80K - $120K", "$120K +",
          "Unknown")
CARDS = ("Blue", "Silver", "Gold", "Platinum")


def make_churn_table(n_rows: int = 10_000, seed: int = 0, *, effects: float = 1.0,
                     label: str = "Attrition_Flag",
                     values: tuple = ("Attrited Customer", "Existing Customer"),
                     id_column: str | None = "CLIENTNUM") -> tuple[pd.DataFrame, np.ndarray]:
    """A labelled customer table and each row's true probability of leaving.

    Parameters
    ----------
    n_rows : int
    seed : int
        Same seed, same table.
    effects : float
        Scale of every effect on the log-odds of leaving (1: strong interactions, about
        16% leave; 0.5: the effects halved).
    label : str
        Name of the label column.
    values : (leaving, staying)
        How the label writes the two outcomes (``("Yes", "No")``, ``(1, 0)``, ...).
    id_column : str or None
        Name of the identifier column (all different whole numbers); None: no id.

    Returns
    -------
    (table, p) : the DataFrame and the true probability of leaving, row by row.
    """
    if not isinstance(n_rows, int) or n_rows < 10:
        raise DataError(f"make_churn_table: n_rows must be an int >= 10; got {n_rows!r}.")
    if len(values) != 2 or values[0] == values[1]:
        raise DataError(f"make_churn_table: values must be two different outcomes; got "
                        f"{values!r}.")
    rng = np.random.default_rng(seed)
    n = n_rows
    age = np.clip(np.round(rng.normal(46, 8, n)), 26, 73).astype(int)
    months_on_book = np.clip(np.round(rng.normal(36, 8, n)), 13, 56).astype(int)
    relationships = rng.integers(1, 7, n)
    inactive = np.minimum(rng.poisson(2.2, n), 6)
    contacts = np.minimum(rng.poisson(2.4, n), 6)
    limit = np.round(np.exp(rng.normal(8.6, 0.9, n)), 0)
    revolving = np.where(rng.random(n) < 0.25, 0.0,
                         np.round(np.minimum(rng.gamma(3.0, 450.0, n), 2517.0)))
    trans_ct = np.clip(np.round(rng.normal(64, 23, n)), 10, 139).astype(int)
    trans_amt = np.round(trans_ct * np.exp(rng.normal(4.1, 0.45, n)), 0)
    ct_change = np.round(np.clip(rng.lognormal(np.log(0.7), 0.3, n), 0.0, 3.7), 3)
    amt_change = np.round(np.clip(ct_change * rng.lognormal(0.05, 0.2, n), 0.0, 3.4), 3)
    card = rng.choice(len(CARDS), n, p=[0.93, 0.05, 0.015, 0.005])
    s = float(effects)
    z = (-2.6
         + s * 3.2 * ((trans_ct < 48) & (ct_change < 0.62))
         + s * 2.2 * ((revolving == 0) & (inactive >= 3))
         + s * 1.8 * ((contacts >= 4) & (relationships <= 2))
         - s * 2.8 * (trans_amt > 8000)
         + s * 1.2 * ((amt_change < 0.55) & (trans_ct < 70))
         + s * 0.35 * (contacts - 2.4)
         - s * 0.25 * (relationships - 3.5))
    p = 1.0 / (1.0 + np.exp(-z))
    leaves = rng.random(n) < p
    table = pd.DataFrame({
        "Customer_Age": age,
        "Gender": rng.choice(["F", "M"], n),
        "Dependent_count": rng.integers(0, 6, n),
        "Education_Level": rng.choice(EDUCATION, n),
        "Income_Category": rng.choice(INCOME, n),
        "Card_Category": np.asarray(CARDS, dtype=object)[card],
        "Months_on_book": months_on_book,
        "Total_Relationship_Count": relationships,
        "Months_Inactive_12_mon": inactive,
        "Contacts_Count_12_mon": contacts,
        "Credit_Limit": limit,
        "Total_Revolving_Bal": revolving,
        "Avg_Utilization_Ratio": np.round(np.minimum(revolving / limit, 1.0), 3),
        "Total_Trans_Amt": trans_amt,
        "Total_Trans_Ct": trans_ct,
        "Total_Ct_Chng_Q4_Q1": ct_change,
        "Total_Amt_Chng_Q4_Q1": amt_change,
        "Country": "US",
        "Notes": pd.Series([None] * n, dtype=object),
        label: np.where(leaves, values[0], values[1]),
    })
    if id_column is not None:
        ids = rng.choice(np.arange(700_000_000, 830_000_000), n, replace=False)
        table.insert(0, id_column, ids)
    return table, p


__all__ = ["make_churn_table"]
