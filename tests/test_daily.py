"""``loyalist daily``: the day run end to end against a real SMTP server (aiosmtpd) and a
local webhook receiver (http.server), twice on one day (nothing ingested or sent
twice), with a bad file in the inbox, and a model-health alert.

Generator: make_business(n_customers=1000, months=24, seed=7, events=False), every
table but touches written as CSV into the inbox folder, plus one file whose name names
no table and one orders file without the order columns.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

import loyalist
from loyalist.daily import calibration_gap, model_health, run_day, table_for
from loyalist.daily.health import calibration_noise, judge, latest_health
from loyalist.daily.send import Message, post_webhook, send_email
from loyalist.datasets import make_business
from loyalist.decisions.worklist.outcomes import open_items
from loyalist.errors import DeliveryError
from loyalist.settings import Settings, SettingsError

BUSINESS = {"n_customers": 1000, "months": 24, "seed": 7, "events": False}


# -- the servers -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Mailbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        self.mails.append((list(envelope.rcpt_tos),
                           message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    box = _Mailbox()
    c = Controller(box, hostname="127.0.0.1", port=_free_port())
    c.start()
    yield c.port, box
    c.stop()


class _Hook(BaseHTTPRequestHandler):
    posts: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((self.path, json.loads(body)))
        self.send_response(type(self).status if self.path == "/hook" else 404)
        self.end_headers()
        self.wfile.write(b"ok" if self.path == "/hook" else b"no such hook")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook():
    class Hook(_Hook):
        posts = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1], Hook
    server.shutdown()
    server.server_close()


# -- the business ------------------------------------------------------------------------
def _toml(folder, smtp_port, hook_port, extra=""):
    (folder / "loyalist.toml").write_text(
        "[daily]\n"
        'inbox = "inbox"\n'
        'lead = "lead@firm.test"\n'
        'admins = ["it@firm.test"]\n'
        'owners = { "Service desk" = "desk@firm.test" }\n'
        'smtp_host = "127.0.0.1"\n'
        f"smtp_port = {smtp_port}\n"
        "smtp_starttls = false\n"
        f'webhook_url = "http://127.0.0.1:{hook_port}/hook"\n'
        'webhook_kind = "generic"\n' + extra, encoding="utf-8")


@pytest.fixture(scope="module")
def shop(tmp_path_factory, smtp, hook):
    """The first two runs on one day, with what the servers received after each."""
    b = make_business(**BUSINESS)
    folder = tmp_path_factory.mktemp("daily")
    inbox = folder / "inbox"
    inbox.mkdir()
    for name, df in b.tables.items():
        if len(df) and name != "touches":
            df.to_csv(inbox / f"{name}-export.csv", index=False)
    (inbox / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # names no table
    (inbox / "orders-broken.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    _toml(folder, smtp[0], hook[0])
    end = max(pd.to_datetime(b.tables["orders"]["ordered_at"]).max(),
              pd.to_datetime(b.tables["subscriptions"]["started_at"]).max())
    day = end.normalize() + pd.Timedelta(days=1)
    path = folder / "s.duckdb"
    with loyalist.connect(path) as s:
        first = run_day(s, day=day)
        after_first = (len(smtp[1].mails), len(hook[1].posts))
        ingests = len(s.ingests())
        second = run_day(s, day=day)
        after_second = (len(smtp[1].mails), len(hook[1].posts))
        items = open_items(s)
        staff = s.table("staff").to_pandas()
        ledger = s.table("daily_messages").to_pandas()
        files = s.table("daily_files").to_pandas()
        ingests_after = len(s.ingests())
    return {"folder": folder, "path": path, "day": day, "first": first, "second": second,
            "after_first": after_first, "after_second": after_second, "items": items,
            "staff": staff, "ledger": ledger, "files": files, "ingests": ingests,
            "ingests_after": ingests_after, "mails": list(smtp[1].mails),
            "posts": list(hook[1].posts)}


def test_the_day_runs_every_step_and_sends_each_owner_their_list(shop):
    first = shop["first"]
    status = {s.name: s.status for s in first.steps}
    # the two bad files fail the inbox step; everything else worked
    assert status == {"inbox": "failed", "score": "ok", "worklist": "ok", "report": "ok",
                      "health": "ok", "send": "ok"}, first.lines()
    assert first.failed
    assert (shop["folder"] / "loyalist-out" / "daily"
            / f"report-{shop['day']:%Y-%m-%d}.html").stat().st_size > 10_000
    items = shop["items"]
    emails = dict(zip(shop["staff"]["id"], shop["staff"]["email"], strict=True))
    emails["Service desk"] = "desk@firm.test"
    owners = {m.recipient: m for m in first.messages if m.kind == "owner"}
    assert set(owners) == set(items["owner"])
    mails = {tuple(to): msg for to, msg in shop["mails"]}
    for owner, mine in items.groupby("owner"):
        if owner not in emails:  # a team without an address: the webhook only
            assert owners[owner].to == ()
            continue
        msg = mails[(emails[owner],)]
        assert msg["Subject"].startswith(f"Your list for {shop['day']:%Y-%m-%d}: "
                                         f"{len(mine):,} item")
        body = msg.get_content()
        must = int(mine["must_do"].sum())
        assert f"{len(mine):,} open item" in body and f"{must:,} must do" in body
        # the most urgent item of the owner comes first, with its customer
        top = mine.sort_values("priority").iloc[0]
        assert body.index(str(top["customer_id"])) < body.index("why:")
    lead = mails[("lead@firm.test",)]
    assert lead["Subject"].startswith(f"Retention summary {shop['day']:%Y-%m-%d}")
    text = lead.get_content()
    assert f"Worklist: {len(items):,} open items" in text
    assert "Loss rate:" in text and "target of 5.0% a year" in text
    assert "Model health: model #" in text
    # the failures of the run reach the lead, file by file
    assert "notes.csv: no table" in text and "orders-broken.csv" in text


def test_the_webhook_gets_every_message_once(shop):
    first = shop["first"]
    posts = shop["posts"][: shop["after_first"][1]]
    assert {p["subject"] for _, p in posts} == {m.subject for m in first.messages}
    assert len(posts) == len(first.messages)
    assert all(path == "/hook" for path, _ in posts)


def test_a_second_run_on_the_same_day_ingests_and_sends_nothing_again(shop):
    second = shop["second"]
    status = {s.name: s.status for s in second.steps}
    assert status["score"] == status["worklist"] == status["report"] == "skipped"
    assert status["health"] == "skipped"
    assert shop["after_second"] == shop["after_first"]  # no mail, no post
    assert shop["ingests_after"] == shop["ingests"]
    sent = shop["ledger"][shop["ledger"]["status"] == "sent"]
    assert not sent.duplicated(["day", "kind", "recipient", "channel"]).any()
    assert "already sent today" in second.step("send").summary
    # each bad file recorded once, reported on every run
    f = shop["files"]
    assert sorted(f.loc[f["status"] == "failed", "file"]) == ["notes.csv",
                                                               "orders-broken.csv"]
    assert second.step("inbox").status == "failed"
    assert "6 seen before" in second.step("inbox").summary


def test_a_bad_file_loads_nothing_and_the_rest_go_on(shop):
    f = shop["files"].set_index("file")
    assert f.loc["orders-export.csv", "status"] == "ingested"
    assert f.loc["orders-export.csv", "inserted"] > 1000
    assert f.loc["orders-broken.csv", "status"] == "failed"
    assert "nothing of it was loaded" in f.loc["orders-broken.csv", "detail"]
    with loyalist.connect(shop["path"], read_only=True) as s:
        assert "orders-broken.csv" not in set(s.ingests()["source"].astype(str)
                                               .str.rsplit("/", n=1).str[-1])


def test_the_command_exits_1_with_one_line_per_step_and_no_traceback(shop, smtp):
    day = (shop["day"] + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    before = len(smtp[1].mails)
    r = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "daily", "--day", day,
                        "--store", str(shop["path"])], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.split(" ", 1)[0] in
             ("inbox", "score", "worklist", "report", "health", "send")]
    assert [ln.split()[0] for ln in lines] == ["inbox", "score", "worklist", "report",
                                               "health", "send"]
    assert lines[0].split()[1] == "failed" and lines[1].split()[1] == "skipped"
    assert lines[5].split()[1] == "ok"  # a new day: its digest goes out
    lead = [m for to, m in smtp[1].mails[before:] if to == ["lead@firm.test"]]
    assert len(lead) == 1 and lead[0]["Subject"].startswith(f"Retention summary {day}")
    # nothing came in since yesterday's digest: no new alarm
    assert "must-do alerts since the previous digest): 0." in lead[0].get_content()
    first = [m for to, m in shop["mails"] if to == ["lead@firm.test"]][0].get_content()
    assert "as this is the first digest" in first


def test_a_model_failing_its_check_alerts_the_admins(shop, smtp, hook):
    from loyalist.features.labels import observed_until
    from loyalist.models.early_warning import (
        choose_mode,
        design,
        fit_on_plan,
        plan_training,
    )

    with loyalist.connect(shop["path"]) as s:
        end = observed_until(s).normalize()
        # the model fitted today learnt from the settled period: checked, never alerted
        fresh = model_health(s, day=shop["day"])
        assert not fresh.out_of_sample and not fresh.alert and "in sample" in fresh.line()
        # a model fitted 200 days before the data's end, as a store scored daily keeps:
        # the settled period's outcomes are new to it
        mode, as_of = choose_mode(s), end - pd.Timedelta(days=200)
        plan = plan_training(s, as_of, 120, mode=mode)
        model = fit_on_plan(design(s, plan.dates, mode=mode, horizon=120), plan, mode)
        old = s.save_model("churn", model, {"mode": mode, "horizon": 120, "as_of": as_of,
                                            "metrics": model.validation_})
        strict = s.settings.with_values("daily", min_auc=0.99, max_calibration_gap=0.001)
        before = len(smtp[1].mails)
        day = shop["day"] + pd.Timedelta(days=2)
        run = run_day(s, strict, day=day)
        h = latest_health(s)
        checks = s.table("model_health").to_pandas()
    assert h.out_of_sample and h.model_id == old
    assert h.eval_date == end - pd.Timedelta(days=120)
    assert h.alert and any("below min_auc 0.99" in p for p in h.problems)
    assert 0.5 < h.roc_auc < 0.99
    lenient = Settings().with_values("daily", min_auc=0.01, auc_drop=1.0,
                                     max_calibration_gap=1.0)
    assert not judge(h, lenient.daily)
    # a calibration gap past the threshold alerts only when chance alone gives less
    cal = Settings().with_values("daily", min_auc=0.01, auc_drop=1.0,
                                 max_calibration_gap=max(h.calibration_gap * 0.9, 0.001))
    assert bool(judge(h, cal.daily)) == (h.calibration_gap > h.noise)
    assert run.step("health").status == "ok" and "ALERT" in run.step("health").summary
    new = smtp[1].mails[before:]
    admin = [m for to, m in new if to == ["it@firm.test"]]
    assert len(admin) == 1 and "Model health alert" in admin[0]["Subject"]
    assert "below min_auc" in admin[0].get_content()
    lead = [m for to, m in new if to == ["lead@firm.test"]]
    assert "MODEL ALERT" in lead[0]["Subject"]
    assert checks["alert"].sum() == 1 and checks["out_of_sample"].sum() == 1


def test_admins_see_each_run_on_the_daily_page_and_api(shop):
    import warnings

    with warnings.catch_warnings():  # starlette's note about httpx, not ours
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from loyalist.store.accounts import Accounts
    from loyalist.web.app import create_app

    with loyalist.connect(shop["path"]) as s:
        accounts = Accounts(s)
        tokens = {}
        for role in ("viewer", "admin"):
            accounts.add_user(f"web-{role}", "a long enough secret", role=role)
            tokens[role] = {"Authorization": f"Bearer {accounts.create_token(f'web-{role}')}"}
        runs = s.table("daily_runs").to_pandas()
        c = TestClient(create_app(s))
        assert c.get("/api/daily", headers=tokens["viewer"]).status_code == 403
        body = c.get("/api/daily", headers=tokens["admin"]).json()
        page = c.get("/daily", headers=tokens["admin"])
    assert body["ok"] and len(body["runs"]) == runs["run_id"].nunique()
    newest = body["runs"][0]
    assert newest["run_id"] == runs["run_id"].max()
    assert [x["step"] for x in newest["steps"]] == ["inbox", "score", "worklist", "report",
                                                   "health", "send"]
    assert {f["file"] for f in body["files"] if f["status"] == "failed"} == {
        "notes.csv", "orders-broken.csv"}
    assert body["health"] and body["messages"]
    assert page.status_code == 200
    for text in ("orders-broken.csv", "Model health", "Messages of"):
        assert text in page.text


# -- the pieces --------------------------------------------------------------------------
def test_calibration_gap_is_the_expected_calibration_error():
    assert calibration_gap([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], bins=1) == 0.0
    # two bins of two: |0.1 - 0.5| and |0.9 - 0.5|, equal weights
    assert calibration_gap([0, 1, 0, 1], [0.1, 0.1, 0.9, 0.9], bins=2) == pytest.approx(0.4)
    rng = __import__("numpy").random.default_rng(1)
    p = rng.random(20_000)
    y = rng.random(20_000) < p
    assert calibration_gap(y, p) < 0.02 < calibration_gap(y, p * 0.5)
    # what chance alone gives shrinks with the number of customers
    assert calibration_noise(p[:500]) > calibration_noise(p) > 0


def test_a_files_table_comes_from_its_name_or_the_mapping():
    assert table_for("orders-2026-05-01.csv") == "orders"
    assert table_for("Orders_May.xlsx") == "orders"
    assert table_for("survey_answers.csv") == "survey_answers"
    assert table_for("ordersheet.csv") is None
    assert table_for("ERP_export_7.csv", {"ERP_*.csv": "orders"}) == "orders"
    assert table_for("notes.csv") is None


def test_delivery_failures_say_what_to_check(smtp, hook):
    s = Settings().with_values("daily", smtp_host="127.0.0.1", smtp_port=_free_port(),
                               smtp_starttls=False, timeout_seconds=5.0)
    msg = Message("lead", "lead", "Hello", "Text", ("lead@firm.test",))
    with pytest.raises(DeliveryError, match="Cannot reach the SMTP server") as e:
        send_email(s.daily, msg)
    assert "smtp_host" in e.value.hint
    tls = s.with_values("daily", smtp_port=smtp[0], smtp_starttls=True)
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        send_email(tls.daily, msg)
    user = s.with_values("daily", smtp_port=smtp[0], smtp_user="me",
                         smtp_password_env="LOYALIST_TEST_NO_SUCH_VARIABLE")
    with pytest.raises(DeliveryError, match="LOYALIST_TEST_NO_SUCH_VARIABLE"):
        send_email(user.daily, msg)
    wrong = s.with_values("daily", webhook_url=f"http://127.0.0.1:{hook[0]}/T0/secret")
    with pytest.raises(DeliveryError, match="answered 404") as e:
        post_webhook(wrong.daily, msg)
    assert "secret" not in str(e.value)  # the hook's token is never printed


@pytest.mark.parametrize("kind, key", [("slack", "text"), ("teams", "attachments"),
                                       ("generic", "subject")])
def test_each_webhook_kind_posts_its_format(hook, kind, key):
    s = Settings().with_values("daily", webhook_url=f"http://127.0.0.1:{hook[0]}/hook",
                               webhook_kind=kind)
    before = len(hook[1].posts)
    post_webhook(s.daily, Message("lead", "lead", "Subject line",
                                  "Smith & Sons <C1>\nline two"))
    path, body = hook[1].posts[before]
    assert key in body and "line two" in json.dumps(body)
    if kind == "slack":
        assert "Smith &amp; Sons &lt;C1&gt;" in body["text"]
    if kind == "teams":
        card = body["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard"
        assert [b["text"] for b in card["body"]] == ["Subject line", "Smith & Sons <C1>",
                                                     "line two"]


def test_an_export_under_its_own_names_is_read_by_its_inbox_options(tmp_path):
    """A shop's order-lines export (Online Retail's header) in the inbox: without
    [daily] inbox_options it fails, nothing loaded, and the failure gives the option to
    write; with them it is read as order lines, returns and all."""
    from loyalist.daily.inbox import ingest_inbox

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "customers.csv").write_text("id,name\n17850,Ana\n13047,Ben\n")
    (inbox / "ERP_week1.csv").write_text(
        "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID\n"
        "536365,85123A,6,2010-12-01 08:26,2.55,17850.0\n"
        "536365,71053,2,2010-12-01 08:26,3.39,17850.0\n"
        "536366,22633,4,2010-12-02 09:00,1.85,13047.0\n"
        "C536367,85123A,-1,2010-12-03 10:00,2.55,17850.0\n")
    tables = {"ERP_*.csv": "orders"}
    settings = Settings().with_values("daily", inbox_tables=tables, inbox_options={
        "ERP_*.csv": {"map": "id=Invoice,ordered_at=InvoiceDate,unit_price=Price,"
                             "product=StockCode", "lines": True, "return_prefix": "C"}})
    with loyalist.connect(tmp_path / "s.duckdb") as s:
        first = {f.path.name: f for f in ingest_inbox(s, inbox, patterns=tables)}
        erp = first["ERP_week1.csv"]
        assert erp.status == "failed" and "nothing of it was loaded" in erp.detail
        assert ('read it with [daily.inbox_options."ERP_*.csv"] map = '
                '"ordered_at=InvoiceDate,id=Invoice"') in erp.detail
        assert s.table("orders").count().execute() == 0
        again = {f.path.name: f for f in ingest_inbox(
            s, inbox, patterns=tables, options=settings.daily.inbox_options)}
        assert again["ERP_week1.csv"].status == "ingested"
        assert again["customers.csv"].status == "seen"
        orders = s.table("orders").to_pandas().set_index("id")
        assert sorted(orders.index) == ["536365", "536366"]
        assert orders.loc["536365", "amount"] == pytest.approx(6 * 2.55 + 2 * 3.39)
        lines = s.table("order_lines").to_pandas()
        back = lines[lines["status"] == "returned"]
        assert len(lines) == 4 and back["order_id"].tolist() == ["536365"]
        assert back["amount"].tolist() == [pytest.approx(2.55)]


def test_daily_settings_are_checked(tmp_path):
    (tmp_path / "loyalist.toml").write_text('[daily]\nlead = "not an address"\n')
    with pytest.raises(SettingsError, match=r"\[daily\] lead must be an e-mail address"):
        Settings.load(tmp_path)
    (tmp_path / "loyalist.toml").write_text('[daily]\nwebhook_kind = "discord"\n')
    with pytest.raises(SettingsError, match="webhook_kind"):
        Settings.load(tmp_path)
    (tmp_path / "loyalist.toml").write_text(
        '[daily.inbox_options."ERP_*.csv"]\nmapping = "id=Invoice"\n')
    with pytest.raises(SettingsError, match="not 'mapping' under 'ERP_\\*.csv'"):
        Settings.load(tmp_path)
    (tmp_path / "loyalist.toml").write_text(
        '[daily.inbox_options."ERP_*.csv"]\nlines = "yes"\n')
    with pytest.raises(SettingsError, match="whose lines is of the right type"):
        Settings.load(tmp_path)
