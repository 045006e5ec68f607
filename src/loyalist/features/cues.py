"""Words that speak of leaving: complaints, cancelling, competitors, in several languages.

The word lists live in ``cues.toml`` next to this module; a business can pass its own
file. Matching is an engine-side regular expression on lower-cased text.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

import ibis

from loyalist.errors import DataError

DEFAULT_CUES = Path(__file__).with_name("cues.toml")
KINDS = ("complaint", "cancel", "competitor")


@lru_cache(maxsize=8)
def load_cues(path: str | None = None) -> dict[str, str]:
    """One regular expression per cue kind, joining every language's terms."""
    p = Path(path) if path else DEFAULT_CUES
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"Cue file not found: {str(p)!r}.",
                        hint="Give a TOML file with [complaint], [cancel], [competitor].") from None
    out = {}
    for kind in KINDS:
        terms = [t for lang in data.get(kind, {}).values() for t in lang]
        for t in terms:
            try:
                re.compile(t)
            except re.error as e:
                raise DataError(f"Bad cue pattern {t!r} in {p}: {e}.",
                                hint="Escape special characters.") from None
        if terms:
            out[kind] = r"(^|[^\w])(" + "|".join(terms) + ")"
    return out


def cue_flags(text: ibis.Value, path: str | None = None) -> dict[str, ibis.Value]:
    """Boolean expressions, one per cue kind, for a string column."""
    lowered = text.lower()
    return {kind: lowered.re_search(pattern).fill_null(False)
            for kind, pattern in load_cues(path).items()}
