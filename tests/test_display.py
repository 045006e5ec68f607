"""``[display] date_format``: read once into the settings, checked, and used by the
pages and the command line's tables; typed dates stay ISO whatever it says."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import loyalist
from loyalist.settings import Settings, SettingsError
from loyalist.settings.display import DisplaySettings

PASSWORD = "a long enough secret"


@pytest.mark.parametrize("pattern, words", [
    ("%m/%Y", "the day, the month and the year"),
    ("%d/%m/%Y %H:%M", "the day alone"),
    ("", "strftime pattern"),
    ("%d/%m/%Y %Q", "known directives"),
])
def test_a_wrong_pattern_is_refused_with_the_section_named(tmp_path, pattern, words):
    (tmp_path / "loyalist.toml").write_text(f'[display]\ndate_format = "{pattern}"\n')
    with pytest.raises(SettingsError) as e:
        Settings.load(tmp_path / "s.duckdb")
    assert "[display] date_format" in str(e.value) and words in str(e.value)


def test_days_and_moments_follow_the_pattern():
    iso, uk = DisplaySettings(), DisplaySettings(date_format="%d/%m/%Y")
    assert iso.day(pd.Timestamp("2024-03-05 14:30")) == "2024-03-05"
    assert uk.day("2024-03-05T14:30:00") == "05/03/2024"
    assert uk.moment(pd.Timestamp("2024-03-05 14:30:59")) == "05/03/2024 14:30"
    assert uk.day(None) == uk.day(pd.NaT) == uk.moment(float("nan")) == ""


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "loyalist.toml").write_text('[display]\ndate_format = "%d.%m.%Y"\n')
    db = tmp_path / "shop.duckdb"
    with loyalist.connect(db) as s:
        s.ingest("customers", pd.DataFrame({"id": ["C1"], "name": ["Ada Shop"],
                                            "created_at": [pd.Timestamp("2023-11-23")]}))
        from loyalist.store.accounts import Accounts

        Accounts(s).add_user("ada", PASSWORD, role="admin")
    return db


def test_the_command_line_shows_dates_as_set(shop):
    got = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "user", "list", "--store",
                          str(shop)], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "COLUMNS": "100", "NO_COLOR": "1"})
    today = pd.Timestamp.now()
    assert got.returncode == 0, got.stderr
    assert f"{today:%d.%m.%Y}" in got.stdout and f"{today:%Y-%m-%d}" not in got.stdout
    status = subprocess.run([sys.executable, "-m", "loyalist.cli.main", "status", "--store",
                             str(shop)], capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "COLUMNS": "100", "NO_COLOR": "1"})
    assert status.returncode == 0, status.stderr
    assert "23.11.2023" in status.stdout and "2023-11-23" not in status.stdout


def test_pages_show_dates_as_set(shop):
    import anyio
    import httpx

    from loyalist.store.accounts import Accounts
    from loyalist.web.app import create_app

    with loyalist.connect(shop) as s:
        token = Accounts(s).create_token("ada")
        app = create_app(s)

        async def visit():  # no lifespan: the page alone, no warm-up in the background
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.get("/customers/C1",
                                   headers={"Authorization": f"Bearer {token}"})

        page = anyio.run(visit)
    assert page.status_code == 200
    assert "customer since 23.11.2023 00:00" in page.text and "2023-11-23" not in page.text
