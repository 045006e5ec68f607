"""Read one table of a TOML configuration file, with errors that say what to fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

from loyalist.errors import DataError, SourceError


def read_table(path, table: str, *, example: str) -> dict:
    """The ``[table]`` of the TOML file at ``path``, or the whole file if it has none.

    ``example`` is a line of valid content, shown in the hint of every error.
    """
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"File not found: {str(p)!r}.",
                          hint=f"give a TOML file with a [{table}] table, e.g. {example}")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{str(p)!r} is not valid TOML: {e}.",
                        hint=f"fix the file; a valid line looks like {example}") from None
    data = doc.get(table, doc)
    if not isinstance(data, dict):
        raise DataError(f"[{table}] in {str(p)!r} must be a table; got {type(data).__name__}.",
                        hint=f"write it as [{table}] followed by lines like {example}")
    return data
