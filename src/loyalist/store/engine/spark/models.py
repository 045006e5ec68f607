"""Fitted models in a Spark store's warehouse: one pickle and one JSON file of its
kind, time and info per model, numbered; the JSON is written last (renamed into place),
so a model is listed only once both are whole. The same listing and loading as the
DuckDB store's model registry (:meth:`loyalist.store.Store.models`)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pandas as pd

from loyalist.errors import DataError


def save(folder: Path, kind: str, model, info: dict | None = None) -> int:
    """Keep ``model`` (pickled, or its bytes) with its info; its id. The caller holds
    the store's lock."""
    payload = model if isinstance(model, bytes | bytearray) else pickle.dumps(model)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()]
    model_id = max(ids, default=0) + 1
    (folder / f"{model_id}.pkl").write_bytes(bytes(payload))
    meta = {"id": model_id, "kind": kind,
            "created_at": pd.Timestamp.now("UTC").tz_localize(None).isoformat(),
            "info": json.dumps(info or {}, default=str)}
    tmp = folder / f".{model_id}.json"
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, folder / f"{model_id}.json")
    return model_id


def _rows(folder: Path) -> list[dict]:
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")
            if p.stem.isdigit()] if folder.is_dir() else []
    return sorted(rows, key=lambda r: -r["id"])


def listing(folder: Path, kind: str | None = None) -> pd.DataFrame:
    """Fitted models, newest first."""
    from loyalist.store.store import model_listing

    rows = [r for r in _rows(folder) if kind is None or r["kind"] == kind]
    df = pd.DataFrame(rows, columns=["id", "kind", "created_at", "info"])
    df["created_at"] = pd.to_datetime(df["created_at"])
    return model_listing(df)


def load(folder: Path, model_id: int | None = None, kind: str | None = None):
    """A fitted model and its info: by id, or the newest of a kind."""
    rows = _rows(folder)
    if model_id is None:
        rows = [r for r in rows if r["kind"] == kind][:1]
        what, hint = f"no {kind} model", ("Fit one first (loyalist score, loyalist "
                                          "value, loyalist route --train).")
    else:
        rows = [r for r in rows if r["id"] == int(model_id)]
        what, hint = f"no model {model_id}", "See the stored models with loyalist models."
    if not rows:
        raise DataError(f"The store has {what}.", hint=hint)
    payload = (folder / f"{rows[0]['id']}.pkl").read_bytes()
    return pickle.loads(payload), json.loads(rows[0]["info"] or "{}")
