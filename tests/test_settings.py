"""One settings object: read once from loyalist.toml next to the store, checked with
errors that name the file, section and key, and seen by every consumer.

The reproduced bug: with ``[service] first_response_hours = 2`` and a request left
unanswered for 12 hours, ``loyalist service`` reported the breach but the alerts that
``loyalist score`` stores and the worklist's must-do items did not, because they fell
back to a built-in 24-hour policy.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import loyalist
from loyalist.datasets import make_business
from loyalist.settings import Settings, SettingsError

# the generator's settings: a small business, a year and a half, events off
BUSINESS = {"n_customers": 300, "months": 18, "seed": 21, "events": False}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "loyalist.cli.main", *args],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                               "COLUMNS": "100"})


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A store whose last request, 12 hours before ``as_of``, is still unanswered."""
    b = make_business(**BUSINESS)
    folder = tmp_path_factory.mktemp("settings")
    path = folder / "s.duckdb"
    with loyalist.connect(path) as s:
        for name in ("customers", "orders", "subscriptions", "requests", "feedback"):
            s.ingest(name, b.tables[name], strict=name != "customers")
        as_of = pd.Timestamp(s.table("orders").ordered_at.max().execute()).normalize() \
            + pd.Timedelta(days=1)
        cid = s.table("customers").id.to_pandas().sort_values().iloc[0]
        s.ingest("requests", pd.DataFrame({
            "id": ["R-late"], "customer_id": [cid], "subject": ["Where is my invoice?"],
            "opened_at": [as_of - pd.Timedelta(hours=12)], "category": ["invoice"],
            "channel": ["email"]}))
    return folder, path, as_of, cid


def _write(folder, text: str) -> None:
    (folder / "loyalist.toml").write_text(text, encoding="utf-8")


def _late_alert(alerts: pd.DataFrame) -> bool:
    a = alerts[(alerts["kind"] == "unanswered_request") & (alerts["evidence_id"] == "R-late")]
    return len(a) == 1


def test_the_service_target_reaches_scores_alerts_and_the_worklist(shop):
    """The issue's reproduction: score and worklist see [service] first_response_hours."""
    from loyalist.decisions.scoring import score
    from loyalist.decisions.service.report import service_report
    from loyalist.decisions.worklist import build_worklist

    folder, path, as_of, cid = shop
    _write(folder, "[service]\nfirst_response_hours = 2\n")
    try:
        with loyalist.connect(path) as s:
            assert s.settings.service.first_response_hours == 2.0
            rep = service_report(s, as_of)
            assert rep.summary["unanswered_now"] >= 1
            run = score(s, as_of, horizon=90)
            assert _late_alert(run.alerts)
            assert _late_alert(s.table("alerts").to_pandas())  # as score stores them
            wl = build_worklist(s, as_of)
            mine = wl.items[wl.items["customer_id"] == cid]
            assert (mine["must_do"] & mine["evidence"].str.contains("R-late")).any()
        # the built-in 24 hours: 12 hours unanswered is not (yet) a breach
        _write(folder, "[service]\nfirst_response_hours = 24\n")
        with loyalist.connect(path) as s:
            from loyalist.decisions.scoring import hard_alerts

            assert not _late_alert(hard_alerts(s, as_of))
    finally:
        (folder / "loyalist.toml").unlink()


def test_report_and_overview_see_the_target_and_calendar(shop):
    from loyalist.decisions.report.build import build_report
    from loyalist.web.context import Cache
    from loyalist.web.views.overview import overview_data

    folder, path, as_of, _ = shop
    _write(folder, "[report]\ntarget_annual_loss = 0.12\nhorizon = 75\n\n[calendar]\n"
           'timezone = "Europe/Berlin"\nhours = ["08:00", "12:00"]\n')
    try:
        with loyalist.connect(path) as s:
            rep = build_report(s, as_of)
            assert rep.target == 0.12 and rep.horizon == 75
            assert "median_response_business_h" in rep.sections["service"]["summary"]
            overview = overview_data(s, Cache(1))
            assert overview["retention"]["target_annual_loss"] == 0.12
    finally:
        (folder / "loyalist.toml").unlink()
    with loyalist.connect(path) as s:
        rep = build_report(s, as_of)
        assert rep.target == 0.05
        assert "median_response_business_h" not in rep.sections["service"]["summary"]


def test_worklist_engine_and_web_settings_reach_their_consumers(shop, tmp_path):
    from loyalist.web.app import create_app

    folder, path, _, _ = shop
    _write(folder, "[worklist]\nmax_attempts = 5\nany_agent_may_close = true\n"
           "control_share = 0.25\n\n[engine]\nmemory_limit = \"1GB\"\nthreads = 1\n\n"
           "[web]\nmax_body_mb = 1\nsignin_free_failures = 9\n")
    try:
        with loyalist.connect(path) as s:
            w = s.settings.worklist.settings
            assert (w.max_attempts, w.any_agent_may_close, w.control_share) == (5, True, 0.25)
            limit, threads = s.raw.execute("SELECT current_setting('memory_limit'), "
                                           "current_setting('threads')").fetchall()[0]
            assert limit.replace(" ", "").upper().startswith(("1.0GIB", "953", "1GB", "1.0GB"))
            assert int(threads) == 1
            app = create_app(s)
            assert app.state.any_agent_may_close is True
            assert app.state.accounts.backoff.free_failures == 9
            guard = next(m for m in app.user_middleware if m.cls.__name__ == "Guard")
            assert guard.kwargs["limits"].max_body_bytes == 2**20
    finally:
        (folder / "loyalist.toml").unlink()


@pytest.mark.parametrize("text, message, hint", [
    ('[service]\nfirst_response_hours = "two"\n', "[service] first_response_hours must be a "
     "number; got 'two'", "first_response_hours ="),
    ("[service]\nfirst_response_hours = -5\n", "must be a number above 0; got -5", None),
    ("[servce]\nfirst_response_hours = 2\n", "unknown section [servce]", "did you mean 'service'"),
    ("[service]\nfirst_respons_hours = 2\n", "unknown key 'first_respons_hours'",
     "did you mean 'first_response_hours'"),
    ("[report]\ntarget_annual_loss = 5\n", "must be a share between 0 and 1", None),
    ('[engine]\nkind = "oracle"\n', "must be one of 'duckdb', 'spark'", None),
    ('[calendar]\ntimezone = "Mars/Olympus"\n', "Unknown time zone", None),
    ('[worklist]\n[[worklist.playbook]]\nname = "save_cal"\nmin_p_leave = 0.3\n',
     "no playbook has this name", "did you mean 'save_call'"),
    ("[service\n", "not valid TOML", None),
    ('[engine.spark_conf]\n"spark.driver.memory" = "8g"\n', "without spark.driver.memory: it "
     "is [engine] driver_memory", "spark.executor.memory"),
    ('[engine.spark_conf]\nspark.sql.session.timeZone = "CET"\n', "Loyalist sets it", None),
    ('[engine.spark_conf]\nexecutor_memory = "8g"\n', "each named spark.something (not "
     "'executor_memory')", None),
])
def test_mistakes_name_the_file_section_and_key(tmp_path, text, message, hint):
    _write(tmp_path, text)
    with pytest.raises(SettingsError) as e:
        Settings.load(tmp_path / "s.duckdb")
    assert message in e.value.message and str(tmp_path / "loyalist.toml") in e.value.message
    if hint:
        assert hint in e.value.hint
    assert "\\n" not in (e.value.hint or "")


def test_spark_options_are_read_as_spark_names_them(tmp_path):
    """[engine.spark_conf] with TOML's dotted keys unquoted (nested tables to TOML), quoted,
    or inline: the session Loyalist starts gets Spark's flat names, the user's Java
    options before Loyalist's quiet logging, and the time zone UTC whatever else is set."""
    from loyalist.store.engine.spark.session import session_options

    _write(tmp_path, '[engine]\nkind = "spark"\ndriver_memory = "3g"\n[engine.spark_conf]\n'
           'spark.executor.memory = "4g"\n"spark.eventLog.enabled" = true\n'
           '"spark.driver.extraJavaOptions" = "-Xss4m"\n"spark.ui.enabled" = true\n')
    options = session_options(Settings.load(tmp_path))
    assert options["spark.executor.memory"] == "4g"
    assert options["spark.eventLog.enabled"] == "true" and options["spark.ui.enabled"] == "true"
    assert options["spark.driver.memory"] == "3g"
    assert options["spark.sql.session.timeZone"] == "UTC"
    java = options["spark.driver.extraJavaOptions"].split()
    assert java[0] == "-Xss4m" and java[1].startswith("-Dlog4j2.configurationFile=")
    plain = session_options(Settings())
    assert plain["spark.ui.enabled"] == "false" and "spark.executor.memory" not in plain
    assert plain["spark.driver.extraJavaOptions"].startswith("-Dlog4j2.configurationFile=")


def test_a_file_with_only_one_section_leaves_the_others_at_their_defaults(tmp_path):
    _write(tmp_path, "[report]\ntarget_annual_loss = 0.04\n")
    s = Settings.load(tmp_path / "s.duckdb")
    assert s.report.target_annual_loss == 0.04
    assert s.service == Settings().service and s.calendar is None
    assert s.origins == {"report.target_annual_loss": "file"}


def test_options_override_for_one_run_and_say_so(tmp_path):
    _write(tmp_path, "[report]\ntarget_annual_loss = 0.04\n")
    s = Settings.load(tmp_path).with_values("report", target_annual_loss=0.1)
    assert s.report.target_annual_loss == 0.1
    assert s.origins["report.target_annual_loss"] == "option"
    with pytest.raises(SettingsError, match="must be a share"):
        s.with_values("report", target_annual_loss=2)
    policy = tmp_path / "policy.toml"
    policy.write_text("[service]\nfirst_response_hours = 3\n[report]\ntarget_annual_loss = 0.3\n")
    s2 = s.with_file(policy, sections=("service",))
    assert s2.service.first_response_hours == 3.0 and s2.report.target_annual_loss == 0.1
    assert s2.origins["service.first_response_hours"].startswith("option")


def test_config_command_prints_values_and_origins(tmp_path):
    _write(tmp_path, "[service]\nfirst_response_hours = 2\n")
    r = _cli("config", "--json", "--store", str(tmp_path / "s.duckdb"))
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["settings"]["service"]["first_response_hours"] == {"value": 2.0,
                                                                   "origin": "file"}
    assert body["settings"]["report"]["target_annual_loss"]["origin"] == "default"
    r = _cli("config", "--store", str(tmp_path / "s.duckdb"))
    assert r.returncode == 0 and "service.first_response_hours" in r.stdout
    assert not (tmp_path / "s.duckdb").exists()  # reading the settings opens no store
    import loyalist

    with loyalist.connect(tmp_path / "s.duckdb"):  # read-only commands need a store
        pass
    _write(tmp_path, '[service]\nfirst_response_hours = "two"\n')
    for args in (("config",), ("service",), ("report",), ("status",)):
        r = _cli(*args, "--store", str(tmp_path / "s.duckdb"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert "[service] first_response_hours" in " ".join(r.stderr.split()), r.stderr


def test_only_the_settings_package_reads_loyalist_toml():
    from pathlib import Path

    pkg = Path(loyalist.__file__).parent
    readers = [p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")
               if "tomllib" in p.read_text(encoding="utf-8")]
    # shipped TOML data (cue words) and --map files keep their own loaders
    # (survey definitions, like playbooks, are shipped TOML data a firm may replace)
    assert sorted(readers) == ["contract/config.py", "contract/survey.py", "features/cues.py",
                               "settings/__init__.py", "settings/worklist.py",
                               "store/ingest/mapping.py"], readers


def test_the_version_is_the_projects():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert loyalist.__version__ == project["project"]["version"]


def test_a_store_folder_reads_the_settings_beside_it(tmp_path):
    """A Spark warehouse is a folder: its settings are the loyalist.toml beside it; a
    folder holding its own loyalist.toml (where a DuckDB store's file sits) keeps it."""
    from loyalist.settings import locate
    from loyalist.store.engine import location

    wh = tmp_path / "wh"
    wh.mkdir()
    assert locate(wh) == wh / "loyalist.toml"  # nothing beside it either
    (tmp_path / "loyalist.toml").write_text('[engine]\nkind = "spark"\n')
    assert locate(wh) == tmp_path / "loyalist.toml"
    assert location(wh) == ("spark", str(wh))
    assert location(tmp_path / "loyalist.duckdb") == ("spark",
                                                      str(tmp_path / "loyalist-warehouse"))
    (wh / "loyalist.toml").write_text("[service]\nfirst_response_hours = 4\n")
    assert locate(wh) == wh / "loyalist.toml"
    assert location(wh) == ("duckdb", str(wh))
