"""Warnings of the libraries underneath (scikit-learn, LightGBM, pandas...) are not the
user's business: a command shows them as one line of ours, never as the library's
stack of ``UserWarning`` lines. Loyalist's own warnings are shown, one line each.
``LOYALIST_WARNINGS=show`` lets every warning through as Python prints it (for bug
reports)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

_PACKAGE = re.compile(r"(?:site|dist)-packages[\\/]+([A-Za-z0-9_]+)")
_NAMES = {"sklearn": "scikit-learn", "lightgbm": "LightGBM", "pandas": "pandas",
          "numpy": "NumPy", "scipy": "SciPy", "ibis": "Ibis", "duckdb": "DuckDB"}


def _origin(filename: str) -> str | None:
    """The library a warning comes from (None: Loyalist's own, or unknown)."""
    norm = filename.replace("\\", "/")
    if "/loyalist/" in norm and "site-packages/loyalist" not in norm \
            or "/src/loyalist/" in norm:
        return None
    m = _PACKAGE.search(filename)
    return _NAMES.get(m.group(1), m.group(1)) if m else "a library"


@contextmanager
def library_warnings(console) -> Iterator[None]:
    """Collect warnings while the command runs; afterwards print Loyalist's own, one
    line each, and one line counting the libraries' (with where they came from)."""
    if os.environ.get("LOYALIST_WARNINGS", "").lower() == "show":
        yield
        return
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        try:
            yield
        finally:
            report(caught, console)


def report(caught, console) -> None:
    own, libraries = [], {}
    for w in caught:
        origin = _origin(w.filename)
        if origin is None or type(w.message).__module__.startswith("loyalist"):
            text = str(w.message)
            if text not in own:
                own.append(text)
        else:
            libraries[origin] = libraries.get(origin, 0) + 1
    for text in own:
        console.print(f"Warning: {text}", markup=False, highlight=False)
    if libraries:
        n = sum(libraries.values())
        console.print(f"({n} warning{'s' if n != 1 else ''} from "
                      + ", ".join(sorted(libraries)) + " not shown; they do not change the "
                      "results above. LOYALIST_WARNINGS=show prints them.)",
                      markup=False, highlight=False, style="dim")
