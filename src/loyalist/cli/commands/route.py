"""``loyalist route``: category, team and confidence of new requests."""

from __future__ import annotations

from pathlib import Path

import typer

from loyalist.cli.options import STORE, open_store
from loyalist.cli.tables import Col, out, progress, show
from loyalist.errors import DataError, SourceError


def _read(path: Path, text_column: str):
    import pandas as pd

    if not path.exists():
        raise SourceError(f"File not found: {str(path)!r}.",
                          hint=f"Check the path (the current folder is {Path.cwd()}).")
    df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if text_column not in df.columns:
        raise DataError(f"{path.name} has no column {text_column!r}; found {list(df.columns)}.",
                        hint="name the column that holds the request with --text-column.")
    if text_column != "text":
        df = df.rename(columns={"text": "text_original", text_column: "text"})
    return df


def route(
    text: str = typer.Argument(None, help="Text of one request to route."),
    file: Path = typer.Option(None, "--file", "-f", help="CSV or Parquet file of requests."),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write the routed file here (CSV)."),
    train: bool = typer.Option(False, "--train", help="Train on the store's past requests "
                               "that have a category, and keep the router in the store's "
                               "model registry (see loyalist models --kind router)."),
    teams: Path = typer.Option(None, "--teams", help="TOML file whose [teams] table maps "
                               "category = \"team\" for this run (default: [service] "
                               "team_for_category in loyalist.toml, else the team that "
                               "usually handled each category)."),
    threshold: float = typer.Option(None, help="Confidence below which a request goes to "
                                    "the human queue (default 0.5, or the trained value)."),
    text_column: str = typer.Option("text", help="Column of --file holding the text."),
    model: Path = typer.Option(None, help="Also write the trained router to this file, or "
                               "route with the router in this file (default: the newest "
                               "router in the store)."),
    store: str = STORE,
) -> None:
    """Predict category, team and confidence of requests; unsure ones go to a human."""
    from loyalist.models.routing import (
        RequestRouter,
        keep_router,
        load_router,
        train_router_from_store,
    )

    if train:
        from loyalist.settings import Settings

        params = {} if threshold is None else {"threshold": threshold}
        settings = Settings.load(store)
        if teams is not None:
            settings = settings.with_teams(teams)
        with open_store(store, settings=settings) as s, progress() as step:
            step("training the router on the store's past requests (cross-validated)")
            router = train_router_from_store(
                s, category_to_team=s.settings.service.team_for_category or None, **params)
            model_id = keep_router(s, router)
        if model is not None:
            router.save(model)
        human = int(round((1 - router.cv_coverage_) * router.n_train_))
        odd = router.cv_strangers_to_human_
        out.print(f"Trained on {router.n_train_:,} requests, {len(router.classes_)} categories: "
                  f"out-of-fold accuracy {router.cv_accuracy_:.3f}. At threshold "
                  f"{router.threshold:g}, {human:,} of these requests ({1 - router.cv_coverage_:.1%}"
                  f") would go to a person, the rest routed with accuracy "
                  f"{router.cv_accuracy_confident_:.3f}"
                  + ("" if odd != odd else f"; of made-up texts unlike them (keyboard mash, "
                     f"greetings, other languages) {odd:.1%} would go to a person")
                  + f". Kept in the store as model {model_id}"
                  + ("" if model is None else f" and written to {model}") + ".",
                  highlight=False)
    elif text is None and file is None:
        raise DataError("Nothing to route.",
                        hint='give a text (loyalist route "my card was charged twice"), '
                             "--file requests.csv, or --train.")
    if text is None and file is None:
        return
    if not train:
        if model is not None:
            router = RequestRouter.load(model)
        else:
            with open_store(store, read_only=True) as s:
                router = load_router(s)
    if threshold is not None:
        router.set_params(threshold=threshold)
    if text is not None:
        _show(router.route([text]), [text])
    if file is not None:
        df = _read(file, text_column)
        routed = router.route(df).drop(columns=["id"], errors="ignore")
        given = {c: f"{c}_given" for c in routed.columns if c in df.columns}
        result = df.rename(columns=given).join(routed)
        human = int(routed["needs_human"].sum())
        out.print(f"{len(result):,} requests routed, {human:,} to '{router.human_queue}'.",
                  highlight=False, markup=False)
        if out_file is not None:
            result.to_csv(out_file, index=False)
            out.print(f"Written to {out_file}.", highlight=False, markup=False)
        else:
            _show(routed.head(20), df["text"].head(20).tolist())


def _show(routed, texts) -> None:
    rows = []
    for txt, row in zip(texts, routed.itertuples(index=False), strict=True):
        short = str(txt) if len(str(txt)) <= 60 else str(txt)[:57] + "..."
        rows.append((short, str(row.category), str(row.team), f"{row.confidence:.2f}",
                     "yes" if row.needs_human else "no"))
    show([Col("text", wrap=True, min_width=16), Col("category"), Col("team"),
          Col("confidence", right=True), Col("needs human", drop=1)], rows)


def register(app: typer.Typer) -> None:
    app.command("route")(route)
