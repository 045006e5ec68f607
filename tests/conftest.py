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


def pytest_terminal_summary(terminalreporter):
    """The property-based run's counts: cases tried and server errors, per field."""
    import sys

    fuzz = sys.modules.get("test_fuzz_inputs")
    if fuzz is None or not fuzz.TALLY:
        return
    cases = sum(v for (_f, kind), v in fuzz.TALLY.items() if kind == "cases")
    errors = sum(v for (_f, kind), v in fuzz.TALLY.items() if kind == "5xx")
    fields = len({f for f, _k in fuzz.TALLY})
    terminalreporter.write_line(f"hostile inputs: {cases:,} cases over {fields} fields "
                                f"(API and CLI), {errors} server errors (5xx)")
