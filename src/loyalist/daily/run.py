"""``run_day``: the team's day in one call, safe to run from cron.

In order: new files from the inbox, ingested once each; scores (and the overview's
figures) when something new came in, else the last scores are kept; the worklist and
the retention report on new scores; the model's health; then the digest: each owner's
list and the lead's summary (and, when the model fails its check, an alert to the
admins) by e-mail, webhook or both.

Every step is recorded in ``daily_runs``, every message in ``daily_messages``: run
twice on one day, the second run ingests nothing again, rescoring nothing, and sends
nothing already sent (a delivery that failed is tried again). A step that fails is
reported and the others go on where they can; :attr:`DayRun.failed` says whether
anything failed (the CLI's exit code 1).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from loyalist.contract.moments import moment
from loyalist.daily import digest
from loyalist.daily.health import judge, latest_health, model_health
from loyalist.daily.inbox import ingest_inbox
from loyalist.daily.send import Message, post_webhook, send_email, webhook_host
from loyalist.errors import DataError, LoyalistError, PathError

STEPS = ("inbox", "score", "worklist", "report", "health", "send")


@dataclass
class Step:
    """What one step did."""

    name: str
    status: str  # ok, failed or skipped
    summary: str
    data: dict = field(default_factory=dict)
    started_at: pd.Timestamp | None = None
    seconds: float = 0.0
    #: what failed, in one line (default: the summary)
    problem: str = ""

    def line(self) -> str:
        return f"{self.name:9} {self.status:8} {self.summary}"


@dataclass
class DayRun:
    """One run of :func:`run_day`."""

    day: pd.Timestamp
    run_id: int
    steps: list[Step] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(s.status == "failed" for s in self.steps)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def lines(self) -> list[str]:
        """One line per step."""
        return [s.line() for s in self.steps]


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def _history(store, name: str) -> pd.DataFrame:
    return store.table(name).to_pandas() if name in store.tables() else pd.DataFrame()


class _Day:
    """The state one run carries from step to step."""

    def __init__(self, store, settings, day, progress):
        self.store, self.settings, self.day = store, settings, day
        self.step = progress or (lambda _m: None)
        self.runs = _history(store, "daily_runs")
        self.run = DayRun(day, int(self.runs["run_id"].max()) + 1 if len(self.runs) else 1)
        self.health = None
        self.backlog = None
        self.rescored = False

    def done_since(self, step: str, since, *, today: bool = True) -> dict | None:
        """The data of the latest step ``step`` that worked after ``since`` (and on this
        day when ``today``), else None."""
        r = self.runs
        if not len(r):
            return None
        r = r[(r["step"] == step) & (r["status"] == "ok")]
        if today:
            r = r[r["day"] == self.day]
        if since is not None:
            r = r[r["finished_at"] >= pd.Timestamp(since)]
        if not len(r):
            return None
        data = r.sort_values("finished_at")["data"].iloc[-1]
        return json.loads(data) if isinstance(data, str) and data else {}

    def written(self, name: str):
        log = self.store.derived_log()
        return log[name]["written_at"] if name in log else None


def _inbox(d: _Day, folder: Path | None) -> Step:
    if folder is None:
        return Step("inbox", "skipped", "no inbox folder set ([daily] inbox)")
    files = ingest_inbox(d.store, folder, patterns=d.settings.daily.inbox_tables, day=d.day,
                         progress=d.step, options=d.settings.daily.inbox_options)
    done = [f for f in files if f.status == "ingested"]
    bad = [f for f in files if f.status == "failed"]
    seen = len(files) - len(done) - len(bad)
    parts = [f"{len(done):,} new file{'s' if len(done) != 1 else ''} ingested"]
    parts += [f.line() for f in done]
    parts += [f"{len(bad):,} failed: " + "; ".join(f.line() for f in bad)] if bad else []
    parts += [f"{seen:,} seen before"] if seen else []
    return Step("inbox", "failed" if bad else "ok", "; ".join(parts),
                {"ingested": [f.path.name for f in done], "failed": [f.path.name for f in bad]},
                problem="; ".join(f.line() for f in bad))


def _score(d: _Day) -> Step:
    scored = d.written("scores")
    last_ingest = max((t for t in d.store.last_ingests().values() if t is not None),
                      default=None)
    if last_ingest is None:
        raise DataError("The store holds no data yet.", hint="Put the exports in the inbox "
                        "folder ([daily] inbox) or run loyalist ingest.")
    if scored is not None and pd.Timestamp(scored) >= pd.Timestamp(last_ingest):
        when = pd.Timestamp(scored).strftime("%Y-%m-%d %H:%M")
        return Step("score", "skipped", f"nothing new since the scores of {when} UTC: kept")
    from loyalist.decisions.overview import refresh
    from loyalist.decisions.scoring import score

    run = score(d.store, progress=d.step)
    refresh(d.store, progress=d.step)
    d.rescored = True
    sc = run.scores
    return Step("score", "ok", f"{len(sc):,} customers scored as of {run.as_of:%Y-%m-%d} "
                f"(model #{run.model_id}); expected to leave {sc['p_leave'].sum():,.0f}",
                {"model_id": run.model_id, "as_of": str(run.as_of.date()),
                 "customers": len(sc)})


def _worklist(d: _Day) -> Step:
    from loyalist.decisions.worklist import build_worklist

    last = d.done_since("worklist", d.written("scores"), today=False)
    if not d.rescored and last is not None:
        d.backlog = last.get("backlog")
        return Step("worklist", "skipped", "scores unchanged since the last worklist run: "
                    "kept", last)
    run = build_worklist(d.store)
    d.backlog = run.backlog
    return Step("worklist", "ok", f"{run.opened:,} opened, {run.closed:,} closed, "
                f"{len(run.items):,} open" + (f", {run.backlog:,} waiting beyond today's caps"
                                             if run.backlog else ""),
                {"opened": run.opened, "closed": run.closed, "open": len(run.items),
                 "backlog": run.backlog})


def _report(d: _Day, out: Path) -> Step:
    from loyalist.decisions.report.build import write_report

    path = out / f"report-{d.day:%Y-%m-%d}.html"
    last = d.done_since("report", d.written("scores"), today=False)
    if not d.rescored and last and Path(last.get("path", "")).exists():
        return Step("report", "skipped", f"nothing new: {last['path']} stands", last)
    write_report(d.store, path, progress=d.step)
    return Step("report", "ok", f"written to {path}", {"path": str(path)})


def _changed(d: _Day):
    """When the data, the scores or the models last changed (a check made after that
    would come out the same)."""
    models = d.store.models("churn")
    times = [d.written("scores"), *d.store.last_ingests().values(),
             models["created_at"].max() if len(models) else None]
    return max((pd.Timestamp(t) for t in times if t is not None and not pd.isna(t)),
               default=None)


def _health(d: _Day) -> Step:
    last = d.done_since("health", _changed(d), today=False)
    h = latest_health(d.store, last["model_id"]) if last and last.get("model_id") else None
    if h is not None:  # same data, same model: the same check, judged by today's settings
        h.problems = judge(h, d.settings.daily)
        d.health = h
        return Step("health", "skipped", "nothing changed since the last check: "
                    + h.line(), last)
    h = model_health(d.store, d.settings, day=d.day, progress=d.step)
    d.health = h
    if h is None:
        return Step("health", "skipped", "no churn model of dated outcomes to check yet")
    return Step("health", "ok", h.line(), {"model_id": h.model_id, "alert": h.alert,
                                          "roc_auc": h.roc_auc,
                                          "calibration_gap": h.calibration_gap})


def _sent(store, day) -> set[tuple]:
    m = _history(store, "daily_messages")
    if not len(m):
        return set()
    m = m[(m["day"] == day) & (m["status"] == "sent")]
    return set(zip(m["kind"], m["recipient"], m["channel"], strict=True))


def _file_name(msg: Message) -> str:
    return f"{msg.kind}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', msg.recipient)}.txt"


def _deliver(d: _Day, messages: list[Message], out: Path) -> Step:
    cfg = d.settings.daily
    copies = out / f"{d.day:%Y-%m-%d}"
    copies.mkdir(parents=True, exist_ok=True)
    for m in messages:  # what was sent, kept: the first version of the day
        path = copies / _file_name(m)
        if not path.exists():
            path.write_text(f"Subject: {m.subject}\nTo: {', '.join(m.to)}\n\n{m.text}\n",
                            encoding="utf-8")
    if not cfg.smtp_host and not cfg.webhook_url:
        return Step("send", "skipped", f"{len(messages):,} messages written to {copies}; "
                    "no delivery set ([daily] smtp_host or webhook_url)")
    already = _sent(d.store, d.day)
    sent, failed, before, nowhere = 0, [], 0, []
    for m in messages:
        channels = ([("email", ", ".join(m.to), send_email)] if cfg.smtp_host and m.to
                    else []) + ([("webhook", webhook_host(cfg.webhook_url), post_webhook)]
                                if cfg.webhook_url else [])
        if not channels:
            nowhere.append(m.recipient)
        for channel, address, deliver in channels:
            if (m.kind, m.recipient, channel) in already:
                before += 1
                continue
            d.step(f"sending {m.kind} {m.recipient} by {channel}")
            status, detail = "sent", None
            try:
                deliver(cfg, m)
                sent += 1
            except LoyalistError as e:
                status, detail = "failed", e.message
                failed.append(f"{m.recipient} by {channel}: {e.message} ({e.hint})")
            d.store.append_derived("daily_messages", pd.DataFrame([{
                "day": d.day, "kind": m.kind, "recipient": m.recipient, "channel": channel,
                "address": address, "subject": m.subject, "status": status,
                "detail": detail, "sent_at": _now()}]), note=f"daily {d.day.date()}")
    parts = [f"{sent:,} sent"] + ([f"{before:,} already sent today"] if before else [])
    parts += [f"no address for {len(nowhere):,} ({', '.join(nowhere[:5])}"
              + (", ..." if len(nowhere) > 5 else "") + ")"] if nowhere else []
    parts += [f"{len(failed):,} failed: " + "; ".join(failed[:3])] if failed else []
    return Step("send", "failed" if failed else "ok", ", ".join(parts),
                {"sent": sent, "failed": len(failed), "data_end": str(_data_end(d.store))})


def _data_end(store):
    from loyalist.features.labels import observed_until

    return observed_until(store)


def _digest(d: _Day, out: Path) -> Step:
    from loyalist.decisions.worklist.outcomes import open_items
    from loyalist.store.worklist import has_worklist

    items = open_items(d.store) if has_worklist(d.store) else pd.DataFrame(
        columns=["owner", "priority", "must_do", "due_at", "opened_at", "customer_id",
                 "playbook", "why", "action"])
    owners = digest.owner_messages(d.store, d.settings, d.day, items)
    # alarms are new when dated after the data of the previous day's digest
    r = d.runs
    prev = r[(r["step"] == "send") & (r["status"] != "skipped") & (r["day"] < d.day)] \
        if len(r) else r
    since = (json.loads(prev.sort_values("finished_at")["data"].iloc[-1] or "{}")
             .get("data_end") if len(prev) else None)
    problems = [f"{s.name}: {s.problem or s.summary}" for s in d.run.steps
                if s.status == "failed"]
    f = digest.figures(d.store, d.settings, d.day, items, backlog=d.backlog,
                       since=since if since not in (None, "None") else None,
                       health=d.health, problems=problems)
    messages = [*owners, digest.lead_message(f, owners, d.settings)]
    if d.health is not None and d.health.alert:
        messages.append(digest.admin_message(d.health, d.settings, d.day))
    d.run.messages = messages
    return _deliver(d, messages, out)


def run_day(store, settings=None, *, day=None, inbox=None, out=None,
            progress: Callable[[str], None] | None = None) -> DayRun:
    """Run the day on ``store`` (see the module's text) and return what each step did.

    Parameters
    ----------
    store : Store
    settings : Settings, optional
        Default: the store's; ``[daily]`` says where the inbox is, who gets what and how.
    day : date-like, optional
        The day of the digest (default: today, UTC): what "today" and "overdue" mean in
        the messages, and the key of what was already sent.
    inbox, out : path, optional
        Override ``[daily] inbox`` and ``out`` for this run.
    """
    settings = settings or store.settings
    cfg = settings.daily
    day = (moment(day, "day") if day is not None else _now()).normalize()
    folder = Path(inbox) if inbox is not None else cfg.folder("inbox", settings.path,
                                                               store.path)
    out = Path(out) if out is not None else cfg.folder("out", settings.path, store.path)
    d = _Day(store, settings, day, progress)
    plan = [("inbox", lambda: _inbox(d, folder)), ("score", lambda: _score(d)),
            ("worklist", lambda: _worklist(d)), ("report", lambda: _report(d, out)),
            ("health", lambda: _health(d)), ("send", lambda: _digest(d, out))]
    needs = {"worklist": "score", "report": "score"}
    for name, do in plan:
        started, t0 = _now(), time.perf_counter()
        before = needs.get(name)
        if before and (s := d.run.step(before)) is not None and s.status == "failed":
            step = Step(name, "skipped", f"not run: {before} failed")
        else:
            d.step(name)
            try:
                step = do()
            except LoyalistError as e:
                step = Step(name, "failed", e.message + (f" Next step: {e.hint}"
                                                         if e.hint else ""))
            except OSError as e:
                err = PathError.from_os_error(e)
                step = Step(name, "failed", f"{err.message} Next step: {err.hint}")
        step.started_at, step.seconds = started, time.perf_counter() - t0
        d.run.steps.append(step)
    store.append_derived("daily_runs", pd.DataFrame([{
        "run_id": d.run.run_id, "day": day, "step": s.name, "status": s.status,
        "summary": s.summary, "data": json.dumps(s.data, default=str),
        "started_at": s.started_at, "finished_at": s.started_at + pd.Timedelta(
            seconds=s.seconds)} for s in d.run.steps]), note=f"daily {day.date()}")
    return d.run


__all__ = ["STEPS", "DayRun", "Step", "run_day"]
