"""schemathesis against the served OpenAPI schema: generated requests to every API
operation, as an admin (who may call them all), never get a server error (5xx), and
every refusal keeps the one error shape."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from test_web_api import start_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = start_site(tmp_path_factory.mktemp("schema"), n_customers=200, seed=3)
    yield s
    s.stop()


@pytest.mark.slow  # generated requests to every route, 54 s in make test: make test-slow
def test_generated_requests_never_get_a_server_error(site):
    headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
    spec = httpx.get(f"{site.url}/api/openapi.json", headers=headers).json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) == sum(len(v) for v in spec["paths"].values()) >= 15
    seen = {}

    def run(op):
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case):
            response = case.call(base_url=site.url, headers=headers)
            seen.setdefault(op.label, set()).add(response.status_code)
            assert response.status_code < 500, (op.label, case.formatted_path,
                                                 response.text[:500])
            if response.status_code >= 400:
                body = response.json()
                assert body["ok"] is False and body["status"] == response.status_code

        check()

    for op in operations:
        run(op)
    assert set(seen) == {op.label for op in operations}
    assert any(code < 300 for codes in seen.values() for code in codes)
