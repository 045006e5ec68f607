from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the shared real data sets (../shared/data next to the repository)
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path):
    import loyalist

    s = loyalist.connect(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture
def write(tmp_path):
    """Write a text file in the test's folder and return its path."""

    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding=encoding)
        return p

    return _write
