"""A council panel that represents the customer base: who to invite, and why each.

:func:`quotas` gives each segment its seats by the largest-remainder method (a segment
whose exact share of seats is at least one half always gets one, so no segment that
would round to a seat is crowded out by the remainders of others). :func:`suggest_panel`
fills each segment's seats with a balanced mix: first advocates and valuable customers
at risk (their shares of the panel in ``[council]``), then anyone; each pick is the
candidate whose region, tenure band and size band are the most under-represented among
the segment's picks so far, against the segment's own mix. Every pick gets a sentence
saying why, in plain words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.settings.council import CouncilSettings

#: the columns :func:`suggest_panel` reads (``region``, ``p_leave`` and ``advocate``
#: may be missing values)
BASE_COLUMNS = ["customer_id", "segment", "region", "tenure_days", "value", "p_leave",
                "advocate"]
NO_SEGMENT = "no segment"
ROLES = ("advocate", "valuable at risk", "representative")
_TENURE = (365, 3 * 365)  # joined within a year, one to three years, longer
_TENURE_WORDS = ("joined within the last year", "a customer for one to three years",
                 "a customer for over three years")
_SIZE_WORDS = ("among the smaller third by value", "in the middle third by value",
               "among the larger third by value")


def quotas(counts: pd.Series, size: int) -> pd.Series:
    """Seats per group (``counts``: customers per group), ``size`` in all, by largest
    remainder; every group whose exact quota is at least 0.5 gets at least one seat."""
    counts = counts[counts > 0]
    if counts.empty or size <= 0:
        return pd.Series(0, index=counts.index, dtype=int)
    exact = counts / counts.sum() * size
    seats = np.floor(exact).astype(int)
    seats[(seats == 0) & (exact >= 0.5)] = 1
    while seats.sum() > size:  # the guaranteed seats overshot: take from the most over
        over = (seats - exact).where(seats > 1)
        seats[over.idxmax()] -= 1
    left = size - int(seats.sum())
    if left > 0:
        order = (exact - seats).sort_values(ascending=False, kind="stable").index
        for g in order[:left]:
            seats[g] += 1
    return seats.astype(int)


def _bands(base: pd.DataFrame) -> pd.DataFrame:
    """Region, tenure band and size band of every customer, as codes."""
    tenure = np.digitize(base["tenure_days"].fillna(0).to_numpy(float), _TENURE)
    value = base["value"].fillna(0).to_numpy(float)
    cuts = np.quantile(value, [1 / 3, 2 / 3]) if len(value) else [0, 0]
    size = np.digitize(value, cuts, right=True)
    region = base["region"].astype(object).where(base["region"].notna(), "")
    return pd.DataFrame({"region": pd.factorize(region)[0], "tenure": tenure,
                         "size": size}, index=base.index)


def _pick(pool: np.ndarray, codes: np.ndarray, targets: list[np.ndarray],
          counts: list[np.ndarray], prefer: np.ndarray, n: int) -> list[int]:
    """``n`` rows of ``pool`` (indices into ``codes``), each the one whose bands are the
    most behind their targets; ties go to the higher ``prefer``."""
    chosen: list[int] = []
    pool = pool.copy()
    for _ in range(n):
        if not len(pool):
            break
        c = codes[pool]
        score = sum(targets[a][c[:, a]] - counts[a][c[:, a]] for a in range(codes.shape[1]))
        best = np.lexsort((-prefer[pool], -score))[0]
        row = int(pool[best])
        chosen.append(row)
        for a in range(codes.shape[1]):
            counts[a][codes[row, a]] += 1
        pool = np.delete(pool, best)
    return chosen


def suggest_panel(base: pd.DataFrame, settings: CouncilSettings | None = None, *,
                  size: int | None = None, seed: int = 0) -> pd.DataFrame:
    """A panel of ``size`` members (default ``[council] size``) representing ``base``
    (one row per current customer, :data:`BASE_COLUMNS`).

    Returns one row per member: ``customer_id, segment, region, role`` (advocate,
    valuable at risk or representative), ``why`` (in words), ``value``, ``p_leave``
    and ``tenure_days``; most valuable first within segment.
    """
    settings = settings or CouncilSettings()
    size = int(settings.size if size is None else size)
    base = base.reset_index(drop=True).copy()
    base["segment"] = base["segment"].astype(object).where(base["segment"].notna(),
                                                           NO_SEGMENT)
    if base.empty:
        return pd.DataFrame(columns=[*BASE_COLUMNS, "role", "why"])
    base["role"] = None
    bands = _bands(base)
    codes = bands.to_numpy()
    rank = base["value"].rank(ascending=False, pct=True, method="max").fillna(1.0)
    valuable = rank <= settings.valuable_top
    at_risk = valuable & (base["p_leave"] >= settings.at_risk_from).fillna(False)
    advocate = base["advocate"].notna() & ~at_risk
    # a stable random order breaks the last ties, the same for the same seed
    jitter = np.random.default_rng(seed).random(len(base)) * 1e-6
    seats = quotas(base["segment"].value_counts(), size)
    picked: list[tuple[int, str]] = []
    for segment, q in seats.items():
        rows = np.flatnonzero((base["segment"] == segment).to_numpy())
        if q <= 0:
            continue
        targets = [np.bincount(codes[rows, a], minlength=codes[:, a].max() + 1) / len(rows) * q
                   for a in range(codes.shape[1])]
        counts = [np.zeros_like(t) for t in targets]
        n_adv = int(round(q * settings.advocates))
        n_risk = int(round(q * settings.at_risk))
        while n_adv + n_risk > q:
            if n_adv >= n_risk:
                n_adv -= 1
            else:
                n_risk -= 1
        taken = np.zeros(len(base), bool)
        risk_pref = (base["value"].fillna(0) * base["p_leave"].fillna(0)).to_numpy() + jitter
        for role, mask, n, prefer in (
                ("valuable at risk", at_risk.to_numpy(), n_risk, risk_pref),
                ("advocate", advocate.to_numpy(), n_adv, base["value"].fillna(0).to_numpy()
                 + jitter),
                ("representative", np.ones(len(base), bool), None, jitter)):
            pool = rows[mask[rows] & ~taken[rows]]
            want = q - sum(1 for _, s in picked if s == segment) if n is None else n
            for r in _pick(pool, codes, targets, counts, prefer, want):
                taken[r] = True
                picked.append((r, segment))
                base.loc[r, "role"] = role
    out = base.loc[[r for r, _ in picked]].copy()
    out["why"] = _why(out, rank.loc[out.index], settings)
    out = out.sort_values(["segment", "value"], ascending=[True, False], kind="stable")
    return out[["customer_id", "segment", "region", "role", "why", "value", "p_leave",
                "tenure_days"]].reset_index(drop=True)


def _money(v: float) -> str:
    return f"{v:,.0f}"


def _why(panel: pd.DataFrame, rank: pd.Series, settings: CouncilSettings) -> list[str]:
    """Why each member was picked: their role, then whom they speak for."""
    out = []
    cuts = _TENURE
    for r, share in zip(panel.itertuples(index=False), rank, strict=True):
        value = float(r.value) if pd.notna(r.value) else 0.0
        if r.role == "valuable at risk":
            lead = (f"Valuable and at risk: among our top {share:.0%} by value (spent "
                    f"{_money(value)} in the last year), with a {r.p_leave:.0%} chance of "
                    "leaving; the council hears them before they go")
        elif r.role == "advocate":
            lead = f"An advocate: {r.advocate}"
        else:
            lead = "Represents the mix of their segment"
        days = float(r.tenure_days) if pd.notna(r.tenure_days) else 0.0
        tenure = _TENURE_WORDS[int(np.digitize(days, cuts))]
        where = f" in {r.region}" if isinstance(r.region, str) and r.region else ""
        who = (f"{r.segment} customers" if r.segment != NO_SEGMENT
               else "customers without a segment")
        out.append(f"{lead}. Speaks for {who}{where}; {tenure}; spent "
                   f"{_money(value)} in the last year.")
    return out


__all__ = ["BASE_COLUMNS", "NO_SEGMENT", "ROLES", "quotas", "suggest_panel"]
