"""The REST API through a real HTTP client against a real uvicorn server on loopback:
authentication and roles on every endpoint, one error shape, ingestion with bad rows,
idempotency, CSRF, and secrets that are never stored in clear."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass

import httpx
import numpy as np
import pandas as pd
import pytest

import loyalist

PASSWORD = "a long enough secret"
#: a user who owns worklist items: linked to the generator's account manager Chloe Novak
OWNER = "chloe.novak"
OWNER_NAME = "Chloe Novak"
ORDER = ("customers", "staff", "orders", "subscriptions", "requests", "feedback", "events",
         "survey_answers", "touches")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_scores(store, seed: int = 0) -> None:
    """Derived tables shaped like `loyalist score` writes them (scoring itself is tested
    in its own files and takes minutes; the web only shows what the store holds)."""
    ids = store.table("customers").id.to_pandas().sort_values().to_numpy()
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.95, len(ids))
    as_of = pd.Timestamp("2024-01-01")
    store.write_derived("scores", pd.DataFrame({
        "customer_id": ids, "as_of": as_of, "p_leave": p, "model_id": 1,
        "top_reason": [f"reason text {i % 7}" for i in range(len(ids))],
        "alerts": (p > 0.8).astype(int), "p_promoter": 1 - p, "silent": p > 0.5}))
    store.write_derived("reasons", pd.DataFrame({
        "customer_id": ids, "rank": 1, "family": [["purchase", "service", "feedback"][i % 3]
                                                  for i in range(len(ids))],
        "text": [f"reason text {i % 7}" for i in range(len(ids))],
        "evidence": [f"customers:{c}" for c in ids], "model_id": 1}))
    # two earlier score runs, the later one appended first: the page must sort them
    for as_of_run, model_id in ((pd.Timestamp("2023-12-01"), 3), (pd.Timestamp("2023-11-01"), 2)):
        store.append_derived("score_history", pd.DataFrame({
            "customer_id": ids, "as_of": as_of_run, "p_leave": rng.uniform(0, 1, len(ids)),
            "model_id": model_id, "top_reason": f"reason of run {model_id}"}))
    hot = ids[p > 0.8]
    store.write_derived("alerts", pd.DataFrame({
        "customer_id": hot, "kind": "cancel_words", "evidence_table": "requests",
        "evidence_id": [f"R{i}" for i in range(len(hot))], "at": as_of, "value": 1.0,
        "category": "cancellation", "text": "Wrote of cancelling", "must_do": True,
        "as_of": as_of}))


@dataclass
class Site:
    store: object
    app: object
    url: str
    tokens: dict
    server: object
    thread: threading.Thread

    def client(self, role: str | None = None, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def count(self, table: str) -> int:
        con = self.store.cursor()
        try:
            return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        finally:
            con.close()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.store.close()


def start_site(folder, n_customers: int = 500, seed: int = 11, backoff=None,
               limits=None, survey: bool = False, months: int = 12) -> Site:
    """A store of a synthetic business with three users, served by uvicorn on loopback.
    The sign-in back-off is off unless given (the route matrix sends wrong tokens on
    purpose hundreds of times; the back-off has tests of its own). ``survey``: the
    business answers the relationship survey (``make_business(survey=True)``)."""
    from loyalist.datasets import make_business
    from loyalist.decisions.worklist import build_worklist
    from loyalist.store.accounts import Accounts, Backoff
    from loyalist.web.app import create_app

    store = loyalist.connect(folder / "web.duckdb")
    business = make_business(n_customers=n_customers, months=months, seed=seed, survey=survey)
    for name in ORDER:
        if len(business.tables.get(name, [])):
            store.ingest(name, business.tables[name], strict=name != "customers")
    write_scores(store)
    build_worklist(store)
    accounts = Accounts(store)
    tokens = {}
    for role in ("viewer", "agent", "lead", "admin"):
        accounts.add_user(role, PASSWORD, role=role)
        tokens[role] = accounts.create_token(role)
    staff = store.table("staff")
    chloe = staff.filter(staff.name == OWNER_NAME).id.execute().iloc[0]
    accounts.add_user(OWNER, PASSWORD, role="agent", person=chloe)
    tokens[OWNER] = accounts.create_token(OWNER)
    app = create_app(store, backoff=backoff or Backoff(free_failures=10**9), limits=limits)
    server, thread, url = serve(app)
    return Site(store, app, url, tokens, server, thread)


def serve(app) -> tuple:
    """``app`` served by uvicorn on a free loopback port, on a thread of its own, once
    it answers: ``(server, thread, url)``; stop it with ``server.should_exit = True``."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("web"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def customer_id(site):
    with site.client("viewer") as c:
        return c.get("/api/customers", params={"limit": 1}).json()["rows"][0]["id"]


def assert_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert set(body) >= {"ok", "error", "hint", "status", "errors"}
    return body


#: every API endpoint: method, path, a valid request, the least role that may call it
ENDPOINTS = [
    ("GET", "/api/me", {}, "viewer"),
    ("GET", "/api/overview", {}, "viewer"),
    ("GET", "/api/customers", {"params": {"q": "C0"}}, "viewer"),
    ("GET", "/api/customers/{customer_id:path}", {}, "viewer"),
    ("GET", "/api/scores", {}, "viewer"),
    ("GET", "/api/reasons", {}, "viewer"),
    ("GET", "/api/alerts", {}, "viewer"),
    ("GET", "/api/service", {}, "viewer"),
    ("GET", "/api/relationship", {}, "viewer"),
    ("GET", "/api/listening", {}, "viewer"),
    ("GET", "/api/council", {}, "viewer"),
    ("GET", "/api/council/suggest", {"params": {"size": 3}}, "viewer"),
    ("POST", "/api/council/confirm", {"json": {"customers": ["{customer_id}"]}}, "admin"),
    ("POST", "/api/council/meeting", {"json": {"held_at": "2024-01-01"}}, "admin"),
    ("POST", "/api/council/attend", {"json": {"meeting_id": "MT0", "customers": ["x"]}},
     "admin"),
    ("POST", "/api/council/point", {"json": {"meeting_id": "MT0", "text": "x"}}, "admin"),
    ("POST", "/api/council/commit", {"json": {"text": "x", "owner": "a", "due": "2024-01-01",
                                              "customer_id": "x"}}, "admin"),
    ("POST", "/api/council/close", {"json": {"commitment_id": "CM0", "we_did": "x"}},
     "admin"),
    ("GET", "/api/team/losses", {"params": {"freq": "Y"}}, "viewer"),
    ("GET", "/api/team", {}, "viewer"),
    ("GET", "/api/team/agent/{name}", {}, "agent"),
    ("POST", "/api/route", {"json": {"texts": ["my card has not arrived"]}}, "viewer"),
    ("POST", "/api/touches", {"json": {"customer_id": "{customer_id}", "outcome": "reached"}},
     "agent"),
    ("GET", "/api/worklist", {"params": {"playbook": "save_call"}}, "agent"),
    ("GET", "/api/worklist/progress", {}, "viewer"),
    ("GET", "/api/worklist/backlog", {}, "agent"),
    ("GET", "/api/worklist/export", {"params": {"playbook": "save_call"}}, "agent"),
    ("POST", "/api/worklist/assign", {"json": {"items": ["W9999999"], "owner": "x"}}, "agent"),
    ("POST", "/api/worklist/snooze", {"json": {"items": ["W9999999"], "until": "2099-01-01"}},
     "agent"),
    ("POST", "/api/worklist/caps", {"json": {"caps": {"save_call": 1}}}, "lead"),
    ("GET", "/api/impact", {}, "viewer"),
    ("GET", "/api/metrics", {"params": {"freq": "Q"}}, "viewer"),
    ("GET", "/api/data", {}, "admin"),
    ("GET", "/api/users", {}, "admin"),
    ("GET", "/api/security", {}, "admin"),
    ("POST", "/api/users/{name}/unlock", {}, "admin"),
    ("GET", "/api/privacy/{customer_id:path}", {}, "admin"),
    # a customer who does not exist: a refusal that failed would erase nobody
    ("DELETE", "/api/privacy/{nobody:path}", {}, "admin"),
    ("POST", "/api/users", {"json": {"name": "someone", "password": "x" * 12}}, "admin"),
    ("GET", "/api/rejects", {}, "admin"),
    ("GET", "/api/daily", {}, "admin"),
    ("POST", "/api/ingests/{ingest_id}/undo", {}, "admin"),
    ("POST", "/api/backup", {}, "admin"),
    ("POST", "/api/ingest/{table}", {"json": {"rows": [{"customer_id": "x",
                                                         "ordered_at": "2024-01-01"}]}},
     "admin"),
    ("POST", "/api/ingest/{table}/file",
     {"files": {"file": ("o.csv", b"customer_id,ordered_at\nx,2024-01-01\n")}}, "admin"),
]
PAGES = [("GET", "/"), ("GET", "/worklist"), ("POST", "/worklist/outcome"),
         ("POST", "/worklist/assign"), ("POST", "/worklist/snooze"),
         ("POST", "/worklist/caps"), ("GET", "/impact"),
         ("GET", "/customers"), ("GET", "/customers/{customer_id:path}"),
         ("GET", "/service"), ("GET", "/relationship"), ("GET", "/listening"), ("GET", "/data"),
         ("GET", "/council"), ("POST", "/council/confirm"), ("POST", "/council/meeting"),
         ("POST", "/council/point"), ("POST", "/council/commit"), ("POST", "/council/close"),
         ("POST", "/customers/outcome"),
         ("POST", "/data/upload"), ("POST", "/logout"), ("GET", "/admin"),
         ("POST", "/admin/unlock"), ("GET", "/daily"), ("GET", "/team"),
         ("GET", "/team/agent/{name}"), ("GET", "/team/losses")]
ROLES = ("viewer", "agent", "lead", "admin")


def _fill(path: str, customer_id: str) -> str:
    return (path.replace("{customer_id:path}", customer_id).replace("{customer_id}", customer_id)
            .replace("{nobody:path}", "nobody-at-all").replace("{table}", "orders")
            .replace("{name}", "viewer").replace("{ingest_id}", "999999"))


def _kw(kw: dict, customer_id: str) -> dict:
    if "json" in kw and "customer_id" in kw["json"]:
        return {**kw, "json": {**kw["json"], "customer_id": customer_id}}
    return kw


def test_the_matrix_lists_every_route(site):
    from loyalist.web.app import VIEWS

    api, pages = set(), set()
    for route in [*site.app.routes, *(r for v in VIEWS for r in v.router.routes)]:
        for method in getattr(route, "methods", None) or ():
            if method == "HEAD":
                continue
            (api if route.path.startswith("/api") else pages).add((method, route.path))
    assert api - {("GET", "/api/openapi.json")} == {
        (m, p.replace("{nobody:path}", "{customer_id:path}")) for m, p, _, _ in ENDPOINTS}
    assert pages - {("GET", "/health"), ("GET", "/login"), ("POST", "/login"), ("GET", "/favicon.ico"),
                    ("GET", "/static/plotly.min.js")} == set(PAGES)


@pytest.mark.parametrize("method, path, kw, role", ENDPOINTS, ids=[e[1] + e[0] for e in ENDPOINTS])
def test_api_refuses_anonymous_and_lower_roles(site, customer_id, method, path, kw, role):
    url, kw = _fill(path, customer_id), _kw(kw, customer_id)
    with site.client() as c:
        body = assert_error(c.request(method, url, **kw), 401)
        assert "Bearer" in body["hint"]
        assert_error(c.request(method, url, headers={"Authorization": "Bearer nope"}, **kw),
                     401)
    for lower in ROLES[:ROLES.index(role)]:
        with site.client(lower) as c:
            body = assert_error(c.request(method, url, **kw), 403)
            assert lower in body["error"] and role in body["error"]


@pytest.mark.parametrize("method, path", PAGES)
def test_pages_refuse_anonymous(site, customer_id, method, path):
    with site.client() as c:
        r = c.request(method, _fill(path, customer_id), follow_redirects=False)
    if method == "GET":
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    else:
        assert r.status_code == 401 and "text/html" in r.headers["content-type"]


def test_openapi_schema_is_served_to_signed_in_callers(site):
    with site.client("viewer") as c:
        schema = c.get("/api/openapi.json").json()
    assert {"/api/customers", "/api/touches", "/api/ingest/{table}/file"} <= set(schema["paths"])
    with site.client() as c:
        assert_error(c.get("/api/openapi.json"), 401)
        assert c.get("/health").json()["ok"] is True


def test_one_error_shape_for_every_kind_of_error(site, customer_id):
    with site.client("admin") as c:
        assert_error(c.get("/api/nowhere"), 404)
        body = assert_error(c.get("/api/customers/not-a-customer"), 404)
        assert "not-a-customer" in body["error"]
        assert_error(c.get("/api/touches"), 405)
        body = assert_error(c.get("/api/customers", params={"limit": 0}), 422)
        assert body["errors"][0]["where"] == "query.limit"
        assert_error(c.post("/api/touches", content=b"{not json",
                            headers={"content-type": "application/json"}), 422)
        assert_error(c.post("/api/touches", json={"customer_id": "nobody",
                                                  "outcome": "reached"}), 404)
        body = assert_error(c.post("/api/ingest/ordrs", json={"rows": [{"a": 1}]}), 422)
        assert body["errors"][0]["where"] == "path.table" and "'orders'" in body["error"]
        body = assert_error(c.post("/api/ingest/orders", json={
            "rows": [{"customer_id": "a", "ordered_at": "someday"}]}), 422)
        assert "nothing was written" in body["error"]
        assert_error(c.post("/api/touches", json={"customer_id": customer_id,
                                                  "outcome": "reached", "at": "later"}), 400)
        # an HTML page for the same errors outside /api
        r = c.get("/nowhere")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "Nothing at /nowhere" in r.text


def test_search_and_paging_cover_every_customer_once(site):
    seen = []
    with site.client("viewer") as c:
        first = c.get("/api/customers", params={"limit": 200}).json()
        offset = 0
        while offset is not None:
            body = c.get("/api/customers", params={"limit": 200, "offset": offset}).json()
            assert body["total"] == first["total"]
            seen += [r["id"] for r in body["rows"]]
            offset = body["next_offset"]
        p = [r["p_leave"] for r in first["rows"]]
        name = first["rows"][0]["name"]
        word = max(name.split(), key=len)
        hits = c.get("/api/customers", params={"q": word.lower(), "limit": 500}).json()
    assert len(seen) == len(set(seen)) == first["total"] == site.count("customers")
    assert p == sorted(p, reverse=True)
    assert hits["total"] >= 1 and all(word.lower() in r["name"].lower() for r in hits["rows"])


def test_customer_json_twin_holds_the_story(site, customer_id):
    with site.client("viewer") as c:
        body = c.get(f"/api/customers/{customer_id}").json()
    orders = site.store.table("orders")
    n_orders = orders.filter(orders.customer_id == customer_id).count().execute()
    assert body["score"]["customer_id"] == customer_id
    assert sum(e["what"] == "order" for e in body["timeline"]) == n_orders
    assert body["reasons"] and body["reasons"][0]["evidence"] == f"customers:{customer_id}"


def test_customer_json_twin_holds_the_risk_over_time(site, customer_id):
    with site.client("viewer") as c:
        body = c.get(f"/api/customers/{customer_id}").json()
        page = c.get(f"/customers/{customer_id}").text
    h = site.store.table("score_history")
    stored = h.filter(h.customer_id == customer_id).to_pandas().sort_values("as_of")
    points = body["score_history"]
    assert [p["as_of"][:10] for p in points] == ["2023-11-01", "2023-12-01"]
    assert [p["model_id"] for p in points] == [2, 3]
    assert [p["p_leave"] for p in points] == pytest.approx(stored["p_leave"].tolist())
    assert points[0]["top_reason"] == "reason of run 2"
    assert 'id="chart-history"' in page and "reason of run 3" in page
    assert "No history yet" not in page


def test_a_store_without_score_history_says_so(tmp_path):
    from types import SimpleNamespace

    from loyalist.datasets import make_business
    from loyalist.web.pages import environment
    from loyalist.web.views.customers import customer_detail

    business = make_business(n_customers=40, months=6, seed=3, events=False)
    with loyalist.connect(tmp_path / "old.duckdb") as store:
        for name in ("customers", "orders", "requests"):
            store.ingest(name, business.tables[name], strict=name != "customers")
        cid = store.table("customers").id.to_pandas().iloc[0]
        data = customer_detail(store, cid)
    assert data["score_history"] == [] and data["score"] is None
    assert data["profile"]["id"] == cid
    html = environment().get_template("customer.html").render(
        request=SimpleNamespace(query_params={}), path=f"/customers/{cid}", user=None,
        csrf="", data=data, outcomes=[], kinds=[])
    assert "No history yet" in html and "chart-history" not in html


BAD_ORDERS = """customer_id,ordered_at,amount,id
{c},2023-06-01,10.5,WEB1
{c},2023-06-02,11,WEB2
{c},not a date,12,WEB3
,2023-06-04,13,WEB4
{c},2023-06-05,fourteen,WEB5
{c},2023-06-06,15,WEB6
"""


def test_upload_with_bad_rows_loses_nothing_and_never_duplicates(site, customer_id):
    data = BAD_ORDERS.format(c=customer_id).encode()
    before, ingests = site.count("orders"), site.count("_loyalist_ingests")
    files = {"file": ("orders-export.csv", data, "text/csv")}
    with site.client("admin") as c:
        r = c.post("/api/ingest/orders/file", files=files, headers={"Idempotency-Key": "up-1"})
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["rows_read"] == 6 and first["inserted"] == 3 and first["rejected"] == 3
        assert first["rows_read"] == first["accepted"] + first["rejected"]
        reasons = {(x["line"], x["column"]): x["reason"] for x in first["rejects"]}
        assert set(reasons) == {(4, "ordered_at"), (5, "customer_id"), (6, "amount")}
        assert "unparseable date" in reasons[(4, "ordered_at")]
        values = {(x["line"], x["column"]): (x["code"], x["value"]) for x in first["rejects"]}
        assert values[(4, "ordered_at")] == ("bad_date", "not a date")
        assert site.count("orders") == before + 3
        listed = c.get("/api/rejects", params={"ingest_id": first["ingest_id"]}).json()
        assert listed["total"] == 3 and {x["source"] for x in listed["rows"]} == {
            "orders-export.csv"}
        # the same key: the first answer, nothing written
        again = c.post("/api/ingest/orders/file", files=files,
                       headers={"Idempotency-Key": "up-1"})
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first
        assert site.count("_loyalist_ingests") == ingests + 1
        # the same key for other content is a conflict
        other = {"file": ("orders-export.csv", data + b"x,2023-06-07,1,WEB7\n", "text/csv")}
        assert_error(c.post("/api/ingest/orders/file", files=other,
                            headers={"Idempotency-Key": "up-1"}), 409)
        # the same content without a key: keyed rows, nothing added
        third = c.post("/api/ingest/orders/file", files=files).json()
    assert third["inserted"] == 0 and third["unchanged"] == 3 and third["rejected"] == 3
    assert site.count("orders") == before + 3
    audit = site.store.raw.execute("SELECT user_name, detail FROM _loyalist_audit WHERE "
                                   "action = 'ingest'").fetchall()
    assert [u for u, d in audit if "orders-export.csv" in d] == ["admin", "admin"]


def test_json_rows_are_checked_like_a_file(site, customer_id):
    rows = [{"customer_id": customer_id, "ordered_at": "2023-07-01", "amount": 3, "id": "J1"},
            {"customer_id": customer_id, "ordered_at": "2023-07-02", "amount": "-", "id": "J2"}]
    before = site.count("orders")
    with site.client("admin") as c:
        body = c.post("/api/ingest/orders", json={"rows": rows},
                      headers={"Idempotency-Key": "rows-1"}).json()
        replay = c.post("/api/ingest/orders", json={"rows": rows},
                        headers={"Idempotency-Key": "rows-1"})
    assert body["inserted"] == 1 and body["rejected"] == 1
    assert body["rejects"][0]["line"] == 2 and body["rejects"][0]["column"] == "amount"
    assert replay.json()["ingest_id"] == body["ingest_id"]
    assert site.count("orders") == before + 1


def test_touches_are_attributed_audited_and_idempotent(site, customer_id):
    before = site.count("touches")
    with site.client("agent") as c:
        r = c.post("/api/touches", json={"customer_id": customer_id, "outcome": "reached",
                                         "note": "agreed a call-back", "no_item": True},
                   headers={"Idempotency-Key": "t-1"})
        assert r.status_code == 201, r.text
        again = c.post("/api/touches", json={"customer_id": customer_id, "outcome": "reached",
                                             "note": "agreed a call-back", "no_item": True},
                       headers={"Idempotency-Key": "t-1"})
        timeline = c.get(f"/api/customers/{customer_id}").json()["timeline"]
    touch_id = r.json()["touch_id"]
    assert again.json()["touch_id"] == touch_id and site.count("touches") == before + 1
    t = site.store.table("touches")
    row = t.filter(t.id == touch_id).to_pandas().iloc[0]
    assert row["by"] == "agent" and row["note"] == "agreed a call-back"
    assert any(e["id"] == touch_id for e in timeline)
    who = site.store.raw.execute("SELECT user_name, ip FROM _loyalist_audit WHERE action = "
                                 "'touch.log' AND detail LIKE ?", [f"%{touch_id}%"]).fetchall()
    assert who == [("agent", "127.0.0.1")]


def test_a_touch_records_the_order_it_was_about(site, customer_id):
    o = site.store.table("orders")
    order = o.filter(o.customer_id == customer_id).select("id").limit(1).execute()["id"][0]
    with site.client("agent") as c:
        r = c.post("/api/touches", json={"customer_id": customer_id, "outcome": "reached",
                                         "no_item": True, "order_id": order,
                                         "note": "told them where the order stands"})
        assert r.status_code == 201, r.text
        assert r.json()["order_id"] == order and r.json()["request_id"] is None
        body = assert_error(c.post("/api/touches", json={
            "customer_id": customer_id, "outcome": "reached", "no_item": True,
            "order_id": "not-an-order"}), 400)
    assert "not-an-order" in body["error"]
    t = site.store.table("touches")
    assert t.filter(t.id == r.json()["touch_id"]).order_id.execute().tolist() == [order]


def test_concurrent_outcomes_are_all_stored(site, customer_id):
    before = site.count("touches")

    def one(i):
        with site.client("agent") as c:
            return c.post("/api/touches", json={"customer_id": customer_id, "no_item": True,
                                                "outcome": "no-answer", "note": f"try {i}"})

    with ThreadPoolExecutor(8) as pool:
        codes = [r.status_code for r in pool.map(one, range(40))]
    assert codes == [201] * 40
    assert site.count("touches") == before + 40


def _sign_in(site, name: str) -> httpx.Client:
    c = httpx.Client(base_url=site.url, timeout=60)
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_forms_need_the_session_csrf_token(site, customer_id):
    url = "/customers/outcome"
    form = {"customer_id": customer_id, "outcome": "saved", "item_id": "none"}
    before = site.count("touches")
    with closing(_sign_in(site, "agent")) as c:
        token = _csrf(c.get(f"/customers/{customer_id}").text)
        for data in (form, {**form, "csrf": "forged"}):
            r = c.post(url, data=data)
            assert r.status_code == 403 and "CSRF" in r.text
        assert site.count("touches") == before
        # API writes with the cookie need the token in a header
        r = c.post("/api/touches", json={"customer_id": customer_id, "outcome": "saved",
                                         "no_item": True})
        assert_error(r, 403)
        r = c.post(url, data={**form, "note": "kept", "csrf": token})
        assert r.status_code == 303 and r.headers["location"].endswith("?logged=0")
        assert site.count("touches") == before + 1
        r = c.post("/api/touches", json={"customer_id": customer_id, "outcome": "saved",
                                         "no_item": True}, headers={"X-CSRF-Token": token})
        assert r.status_code == 201
    with httpx.Client(base_url=site.url) as anon:
        anon.get("/login")
        r = anon.post("/login", data={"name": "agent", "password": PASSWORD, "csrf": "x"})
        assert r.status_code == 403 and "loyalist_session" not in r.headers.get("set-cookie", "")


def test_sign_in_out_and_wrong_password(site):
    with httpx.Client(base_url=site.url) as c:
        csrf = _csrf(c.get("/login").text)
        r = c.post("/login", data={"name": "agent", "password": "wrong!", "csrf": csrf})
        assert r.status_code == 401 and "Wrong user name or password" in r.text
    c = _sign_in(site, "viewer")
    cookie = c.cookies["loyalist_session"]
    assert c.get("/").status_code == 200
    assert c.get("/api/me").json()["user"] == "viewer"  # the JSON twin answers the cookie
    r = c.post("/logout", data={"csrf": _csrf(c.get("/").text)})
    assert r.status_code == 303
    with httpx.Client(base_url=site.url, cookies={"loyalist_session": cookie}) as old:
        assert old.get("/", follow_redirects=False).status_code == 303
    c.close()


def test_secrets_are_hashed_at_rest(site):
    con = site.store.raw
    hashes = dict(con.execute("SELECT name, password_hash FROM _loyalist_users").fetchall())
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes.values())
    stored = {r[0] for r in con.execute("SELECT token_hash FROM _loyalist_tokens").fetchall()}
    for token in site.tokens.values():
        assert token not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored
    c = _sign_in(site, "viewer")
    sid = c.cookies["loyalist_session"]
    ids = {r[0] for r in con.execute("SELECT id_hash FROM _loyalist_sessions").fetchall()}
    assert sid not in ids and hashlib.sha256(sid.encode()).hexdigest() in ids
    c.close()


def test_session_cookie_flags(site):
    import anyio

    from loyalist.web.auth import LOGIN_COOKIE

    async def sign_in(base):
        transport = httpx.ASGITransport(app=site.app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            await c.get("/login")
            r = await c.post("/login", data={"name": "viewer", "password": PASSWORD,
                                             "csrf": c.cookies[LOGIN_COOKIE]})
            return r.headers.get_list("set-cookie")

    plain = [h for h in anyio.run(sign_in, "http://test") if h.startswith("loyalist_session")]
    tls = [h for h in anyio.run(sign_in, "https://test") if h.startswith("loyalist_session")]
    assert "HttpOnly" in plain[0] and "SameSite=lax" in plain[0] and "Secure" not in plain[0]
    assert "Secure" in tls[0]


def test_serve_refuses_a_store_without_admin(tmp_path):
    db = tmp_path / "empty.duckdb"
    loyalist.connect(db).close()
    proc = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "serve", "--store", db],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})
    assert proc.returncode == 1
    assert "no admin user" in proc.stderr and "loyalist user add" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow  # a dozen CLI processes, 42 s in make test: make test-slow
def test_user_and_token_commands(tmp_path):
    db = str(tmp_path / "u.duckdb")

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args, "--store", db],
                              capture_output=True, text=True, input=stdin, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})

    assert run("user", "add", "ada", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    short = run("user", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "too short" in short.stderr
    listed = run("user", "list")
    assert "ada" in listed.stdout and "admin" in listed.stdout and "bob" not in listed.stdout
    token = run("token", "create", "ada").stdout.strip().splitlines()[-1]
    from loyalist.errors import AuthError
    from loyalist.store.accounts import Accounts

    with loyalist.connect(db) as s:
        assert Accounts(s).user_for_token(token).name == "ada"
        Accounts(s).add_user("eve", PASSWORD, role="agent")
        sid, _ = Accounts(s).create_session(Accounts(s).authenticate("eve", PASSWORD))
        eve = Accounts(s).create_token("eve")
    assert run("user", "disable", "eve").returncode == 0
    with loyalist.connect(db) as s:
        for check in (lambda: Accounts(s).user_for_token(eve), lambda: Accounts(s).session(sid),
                      lambda: Accounts(s).authenticate("eve", PASSWORD)):
            with pytest.raises(AuthError):
                check()
        assert Accounts(s).user_for_token(token).name == "ada"


def test_worklist_mine_filters_and_one_click_outcome(site):
    with site.client(OWNER) as c:
        everything = c.get("/api/worklist", params={"limit": 500}).json()
        mine = c.get("/api/worklist", params={"mine": True, "limit": 500}).json()
        small = c.get("/api/worklist", params={"segment": "small", "limit": 500}).json()
        assert_error(c.get("/api/worklist", params={"due_before": "someday"}), 400)
    assert everything["total"] > mine["total"] > 0
    assert {r["owner_name"] for r in mine["rows"]} == {OWNER_NAME}
    assert len({r["owner"] for r in mine["rows"]}) == 1
    assert small["total"] > 0 and {r["segment"] for r in small["rows"]} == {"small"}
    prio = [r["priority"] for r in everything["rows"]]
    assert prio == sorted(prio)
    item = mine["rows"][0]
    before = site.count("touches")
    with closing(_sign_in(site, OWNER)) as c:
        page = c.get("/worklist", params={"mine": "true"})
        assert f'id="item-{item["item_id"]}"' in page.text
        r = c.post("/worklist/outcome", data={
            "csrf": _csrf(page.text), "customer_id": item["customer_id"],
            "item_id": item["item_id"], "outcome": "saved", "note": "renewed",
            "back": "mine=true"})
        assert r.status_code == 303 and r.headers["location"] == "/worklist?mine=true"
        after = c.get("/api/worklist", params={"mine": True, "limit": 500}).json()
        progress = c.get("/api/worklist/progress").json()["rows"]
    assert site.count("touches") == before + 1
    assert item["item_id"] not in {r["item_id"] for r in after["rows"]}
    assert after["total"] == mine["total"] - 1
    assert sum(r["saved"] for r in progress) >= 1


def test_routing_needs_a_trained_router_then_answers(site):
    from loyalist.models.routing import keep_router, train_router_from_store

    texts = ["my invoice was charged twice", "hello"]
    with site.client("viewer") as c:
        body = assert_error(c.post("/api/route", json={"texts": texts}), 409)
        assert "route --train" in body["hint"]
        router = train_router_from_store(site.store)
        keep_router(site.store, router)  # the web app picks up the newest without restart
        rows = c.post("/api/route", json={"texts": texts}).json()["rows"]
        page = c.get("/service", params={"text": texts[0]})
    expected = router.route(texts)
    assert [r["text"] for r in rows] == texts
    assert [r["category"] for r in rows] == list(expected["category"])
    assert [r["needs_human"] for r in rows] == list(expected["needs_human"])
    assert all(0 <= r["confidence"] <= 1 for r in rows)
    assert f"Category <b>{rows[0]['category']}</b>" in page.text


def test_relationship_shows_what_loyalist_relationship_kept_and_says_how_to_get_it(site):
    """No analysis kept: the JSON twin refuses with the command to run, the page says
    so; nothing is analysed on a request (the page with a kept analysis is checked in
    Chromium, test_web_browser.py)."""
    with site.client("viewer") as c:
        body = assert_error(c.get("/api/relationship"), 409)
        assert "loyalist relationship --store" in body["hint"]
        page = c.get("/relationship")
    assert page.status_code == 200 and 'id="no-analysis"' in page.text
    assert "relationship_summary" not in site.store.tables()


def test_the_first_overview_after_a_refresh_has_the_alarms(tmp_path):
    """The overview refreshes its tables when they are stale and reads them at once: its
    first answer once held no alarm summary and no customers worth saving, because the
    web thread's remembered table list predated the worth_saving table it had just
    written (found comparing the engines: tests/test_spark_parity.py)."""
    from loyalist.decisions.worth_saving import stored_lead

    site = start_site(tmp_path, n_customers=60, seed=2)
    try:
        with site.client("viewer") as c:
            first = c.get("/api/overview").json()
        kept = stored_lead(site.store, limit=10)
        assert first["alarms"] is not None and first["worth_saving"]["rows"]
        assert first["alarms"]["with_any"] == kept["alarms"]["with_any"] > 0
        assert [r["customer_id"] for r in first["worth_saving"]["rows"]] == [
            r["customer_id"] for r in kept["worth_saving"]["rows"]]
    finally:
        site.stop()


def test_overview_json_twin_matches_the_store(site):
    with site.client("viewer") as c:
        body = c.get("/api/overview").json()
        page = c.get("/")
    scores = site.store.table("scores").to_pandas()
    assert body["risk"]["scored"] == len(scores)
    assert abs(body["risk"]["expected_leavers"] - scores["p_leave"].sum()) < 1e-6
    assert body["tables"]["customers"] == site.count("customers")
    feedback = site.store.table("feedback").nps.to_pandas().dropna()
    nps = ((feedback >= 9).mean() - (feedback <= 6).mean()) * 100
    assert abs(body["nps"]["nps"] - nps) < 1e-6
    answers = site.store.table("feedback").to_pandas().dropna(subset=["nps"])
    assert abs(body["nps"]["trust"] - answers["trust"].mean()) < 1e-9
    assert body["retention"]["monthly"] and body["retention"]["cohorts"]
    assert f"<b>{body['risk']['expected_leavers']:,.0f}</b>" in page.text


def test_overview_figures_are_as_of_their_refresh_and_follow_an_upload(site, customer_id):
    from loyalist.decisions.worklist import open_items

    with site.client("viewer") as c:
        body = c.get("/api/overview").json()
        page = c.get("/").text
    assert body["stale"] == []
    for part in ("retention", "service", "nps"):
        assert body[part]["as_of"] and body[part]["refreshed_at"], part
    assert page.count("refreshed") >= 3 and 'id="work-now"' in page
    assert body["work"]["open_items"] == len(open_items(site.store))
    with site.client("admin") as c:
        r = c.post("/api/ingest/feedback", json={"rows": [{
            "id": "F-overview-1", "customer_id": customer_id, "answered_at": "2023-12-30",
            "nps": "10"}]})
        assert r.status_code == 201, r.text
    with site.client("viewer") as c:
        after = c.get("/api/overview").json()
    assert after["nps"]["answers"] == body["nps"]["answers"] + 1
    assert after["nps"]["refreshed_at"] > body["nps"]["refreshed_at"]


def test_metrics_twin_is_the_retention_metrics(site):
    from loyalist.features.retention import loss_rates

    with site.client("viewer") as c:
        body = c.get("/api/metrics", params={"freq": "Q", "by": "segment"}).json()
        assert_error(c.get("/api/metrics", params={"freq": "W"}), 422)
    expected = loss_rates(site.store, "Q", "segment")
    assert len(body["loss_rates"]) == len(expected)
    assert [r["lost"] for r in body["loss_rates"]] == expected["lost"].tolist()
    assert 0 < body["concentration"]["top_share"] <= 1


def test_admins_add_users_through_the_api(site):
    with site.client("admin") as c:
        r = c.post("/api/users", json={"name": "newagent", "password": PASSWORD,
                                       "role": "agent"})
        assert r.status_code == 201
        assert_error(c.post("/api/users", json={"name": "newagent", "password": PASSWORD}),
                     400)
        assert_error(c.post("/api/users", json={"name": "x", "password": "short"}), 400)
        assert_error(c.post("/api/users", json={"name": "y", "password": PASSWORD,
                                                "role": "boss"}), 422)
        listed = c.get("/api/users").json()["rows"]
    assert {"name": "newagent", "role": "agent"}.items() <= next(
        u for u in listed if u["name"] == "newagent").items()
    assert all("password_hash" not in u for u in listed)
    with closing(_sign_in(site, "newagent")) as c:
        assert c.get("/api/me").json()["role"] == "agent"


def test_reads_take_turns_and_wait_for_writes():
    import asyncio

    from loyalist.web.app import Turns

    now = {"reads": 0, "static": 0, "writing": False}
    most = {"reads": 0, "static": 0, "reads_during_write": 0}

    async def app(scope, receive, send):
        if scope["method"] == "POST":
            now["writing"] = True
            await asyncio.sleep(0.05)
            now["writing"] = False
            return
        kind = "static" if scope["path"].startswith("/static") else "reads"
        now[kind] += 1
        most[kind] = max(most[kind], now[kind])
        most["reads_during_write"] += kind == "reads" and now["writing"]
        await asyncio.sleep(0.01)
        now[kind] -= 1

    turns = Turns(app, readers=3)

    async def call(method, path="/api/customers"):
        await turns({"type": "http", "method": method, "path": path}, None, None)

    async def main():
        await asyncio.gather(call("POST", "/api/touches"), *[call("GET") for _ in range(20)],
                             *[call("GET", "/static/app.js") for _ in range(5)])

    asyncio.run(main())
    assert most["reads"] == 3  # turns: never more at once, and the turns are used
    assert most["static"] == 5  # static files pass straight through
    assert most["reads_during_write"] == 0
    # an upload (which may take minutes) does not hold the reads back
    most.update(reads=0, reads_during_write=0)
    turns = Turns(app, readers=3)  # a new event loop needs new turns

    async def upload():
        await asyncio.gather(call("POST", "/api/ingest/orders/file"),
                             *[call("GET") for _ in range(6)])

    asyncio.run(upload())
    assert most["reads"] == 3 and most["reads_during_write"] > 0


def test_mine_is_the_person_a_user_is_linked_to_never_a_lookalike_name(site):
    """One identity per person: a worklist item's owner, a request's agent and a web
    account are joined by the staff id, not by normalising display names."""
    from loyalist.store.accounts import Accounts

    accounts = Accounts(site.store)
    accounts.add_user("Chloe_Novak", PASSWORD, role="agent")  # same words, no link
    token = accounts.create_token("Chloe_Novak")
    with site.client() as c:
        lookalike = c.get("/api/worklist", params={"mine": True},
                          headers={"Authorization": f"Bearer {token}"}).json()
    with site.client(OWNER) as c:
        linked = c.get("/api/worklist", params={"mine": True}).json()
    assert lookalike["total"] == 0 and linked["total"] > 0
    staff = site.store.table("staff").to_pandas().set_index("id")["name"]
    owners = site.store.table("customers").owner.to_pandas().dropna()
    agents = site.store.table("requests").agent.to_pandas().dropna()
    assert set(owners) <= set(staff.index) and set(agents) <= set(staff.index)


def test_upload_of_order_lines(site, customer_id):
    """The web upload reads an order-lines export like loyalist ingest --lines."""
    data = (f"Invoice,Sku,Qty,Date,Price,Cust\nWL1,A,2,2023-06-01 10:00,5.00,{customer_id}\n"
            f"WL1,B,1,2023-06-01 10:00,2.50,{customer_id}\n"
            f"CWL1,B,-1,2023-06-03 10:00,2.50,{customer_id}\n").encode()
    form = {"mapping": "id=Invoice,customer_id=Cust,ordered_at=Date,product=Sku,"
                       "amount=Qty*Price", "lines": "true", "return_prefix": "C"}
    with site.client("admin") as c:
        r = c.post("/api/ingest/orders/file", files={"file": ("lines.csv", data, "text/csv")},
                   data=form)
        assert r.status_code == 201, r.text
        body = r.json()
    assert body["rows_read"] == 3 and body["inserted"] == 1 and body["rejected"] == 0
    assert body["lines"]["stored"] == 3 and body["lines"]["returns_linked"] == 1
    orders = site.store.table("orders")
    assert orders.filter(orders.id == "WL1").amount.execute().tolist() == [12.5]


def test_listening_without_a_competitor_list_says_so_and_shows_names_to_confirm(site):
    with site.client("viewer") as c:
        body = c.get("/api/listening").json()
        assert body["ok"] is True and body["competitors"] == []
        assert isinstance(body["proposed"], list)
        page = c.get("/listening")
    assert page.status_code == 200
    assert "No competitors are listed" in page.text and "docs/listening.md" in page.text
    assert page.headers["content-security-policy"] and page.headers["x-content-type-options"]


def test_listening_with_the_demo_list_shows_competitors_reasons_and_evidence(tmp_path):
    from loyalist.datasets._text import COMPETITOR_ALIASES

    names = ", ".join(f'"{k}" = [' + ", ".join(f'"{a}"' for a in v) + "]"
                      for k, v in COMPETITOR_ALIASES.items())
    (tmp_path / "loyalist.toml").write_text(f"[listening]\ncompetitors = {{ {names} }}\n",
                                            encoding="utf-8")
    site = start_site(tmp_path, n_customers=300)
    try:
        with site.client("viewer") as c:
            body = c.get("/api/listening", params={"limit": 10}).json()
            page = c.get("/listening")
    finally:
        site.stop()
    assert body["competitors"] == list(COMPETITOR_ALIASES)
    assert body["summary"] and {r["competitor"] for r in body["summary"]} <= set(
        COMPETITOR_ALIASES)
    assert len(body["mentions"]) <= 10 and all(m["evidence"] for m in body["mentions"])
    assert body["lost"] == sum(r["customers"] for r in body["reasons"])
    assert page.status_code == 200
    for words in ("Competitors named", "Why customers left", "Latest mentions",
                  body["summary"][0]["competitor"]):
        assert words in page.text


def test_worklist_team_api_sorts_assigns_snoozes_exports_and_shows_the_backlog(site):
    """Runs last in this module: it moves items between owners."""
    import io

    import pandas as pd

    with site.client(OWNER) as c:
        mine = c.get("/api/worklist", params={"mine": True, "limit": 500}).json()
        by_due = c.get("/api/worklist", params={"sort": "due", "desc": True,
                                                "limit": 500}).json()
        assert_error(c.get("/api/worklist", params={"sort": "nonsense"}), 400)
        backlog = c.get("/api/worklist/backlog").json()
        csv = c.get("/api/worklist/export", params={"mine": True})
    due = [r["due_at"] for r in by_due["rows"]]
    assert due == sorted(due, reverse=True) and by_due["sort"] == "due"
    assert {"waiting", "must_do", "oldest_days", "playbooks", "rows"} <= set(backlog)
    assert backlog["total"] == backlog["waiting"]
    table = pd.read_csv(io.StringIO(csv.text))
    assert csv.headers["content-type"].startswith("text/csv")
    assert list(table["item_id"]) == [r["item_id"] for r in mine["rows"]]
    assert all(r["overdue_days"] >= 0 for r in mine["rows"])
    # one customer and matter, one item
    pairs = [(r["customer_id"], r["matter"]) for r in by_due["rows"]]
    assert len(pairs) == len(set(pairs))
    mine_ids = [r["item_id"] for r in mine["rows"]]
    staff = set(site.store.table("staff").id.to_pandas().astype(str))
    theirs = next(r for r in by_due["rows"] if r["owner"] in staff
                  and r["owner"] != mine["rows"][0]["owner"])
    with site.client(OWNER) as c:
        # an agent hands over their own items ...
        r = c.post("/api/worklist/assign", json={"items": mine_ids[:2], "owner":
                                                 theirs["owner"], "note": "holiday"})
        assert r.status_code == 200 and r.json()["assigned"] == mine_ids[:2], r.text
        # ... but does not take another person's, and nothing is written then
        assert_error(c.post("/api/worklist/assign", json={
            "items": [mine_ids[2], theirs["item_id"]], "owner": mine["rows"][0]["owner"]}), 403)
        after = c.get("/api/worklist", params={"mine": True, "limit": 500}).json()
        assert after["total"] == mine["total"] - 2
        day = (pd.Timestamp.now() + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
        r = c.post("/api/worklist/snooze", json={"items": [mine_ids[2]], "until": day},
                   headers={"Idempotency-Key": "snooze-1"})
        again = c.post("/api/worklist/snooze", json={"items": [mine_ids[2]], "until": day},
                       headers={"Idempotency-Key": "snooze-1"})
        assert r.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
        asleep = c.get("/api/worklist", params={"snoozed": True, "limit": 500}).json()
        assert [x["item_id"] for x in asleep["rows"]] == [mine_ids[2]]
        assert_error(c.post("/api/worklist/snooze", json={"items": [theirs["item_id"]],
                                                          "until": day}), 403)
    # the admin (the lead) takes it back for the agent
    with site.client("admin") as c:
        r = c.post("/api/worklist/assign", json={"items": mine_ids[:1],
                                                 "owner": mine["rows"][0]["owner"]})
        assert r.status_code == 200 and r.json()["assigned"] == mine_ids[:1]
    log = site.app.state.accounts.audit_log(50)
    moves = log[log["action"] == "worklist.assign"]
    assert len(moves) >= 2 and moves["detail"].str.contains("holiday").any()
    assert (log["action"] == "worklist.snooze").sum() == 1  # the replay wrote nothing


def test_team_losses_api_gives_departments_and_stated_reasons(tmp_path):
    site = start_site(tmp_path, n_customers=800, months=24)
    try:
        with site.client("viewer") as c:
            body = c.get("/api/team/losses", params={"freq": "Y"}).json()
            bad = c.get("/api/team/losses", params={"freq": "W"})
            seg = c.get("/api/team/losses", params={"freq": "Y", "segment": "small"}).json()
            nobody = c.get("/api/team/losses", params={"segment": "x' OR 1=1 --"})
    finally:
        site.stop()
    assert body["ok"] is True
    # one segment: fewer lost customers than the firm's, named in the notes; a segment
    # nobody is in (a quote in it bound, never pasted) is a 400 naming the segments
    lost = {r["department"]: r["lost_customers"] for r in body["overall"]}
    seg_lost = {r["department"]: r["lost_customers"] for r in seg["overall"]}
    assert 0 < seg_lost["service"] < lost["service"]
    assert any("Segment small" in n for n in seg["notes"])
    assert nobody.status_code == 400 and "key account" in nobody.json()["hint"]
    assert {r["department"] for r in body["overall"]} >= {"fulfilment", "service"}
    assert any(r["department"] == "unknown" for r in body["side_by_side"])
    assert bad.status_code == 422 and bad.json()["ok"] is False
