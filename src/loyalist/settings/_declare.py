"""How a setting is declared and checked.

A section of settings is a frozen dataclass; each field is made with :func:`setting`,
which carries its help text, unit and check. :func:`read_section` turns one TOML table
into the dataclass, checking names (with the nearest known name when one is
misspelt), types and ranges, with errors that name the file, the section and the key.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields

from loyalist.errors import DataError


class SettingsError(DataError):
    """A settings file or option that cannot be used: the message names the file, the
    section and the key."""

    exit_code = 2


def setting(default, help: str, *, check: Callable | None = None, unit: str | None = None,
            example: str | None = None):
    """A field of a settings section, with its help text and check.

    ``check(value)`` returns None when the value is fine, else what is expected (a few
    words: "a number above 0").
    """
    meta = {"help": help, "check": check, "unit": unit, "example": example}
    if isinstance(default, dict | list | set):
        kind = type(default)
        return field(default_factory=lambda: kind(default), metadata=meta)
    return field(default=default, metadata=meta)


def positive(v) -> str | None:
    return None if v > 0 else "a number above 0"


def at_least(low):
    def check(v):
        return None if v >= low else f"a number of {low:g} or more"

    return check


def share(v) -> str | None:
    return None if 0 < v < 1 else "a share between 0 and 1 (e.g. 0.05 for 5%)"


def one_of(*choices):
    def check(v):
        return None if v in choices else "one of " + ", ".join(map(repr, choices))

    return check


def each(inner):
    """A check of every value of a table."""
    def check(v):
        for value in v.values():
            problem = inner(value)
            if problem:
                return f"a table whose values are each {problem}"
        return None

    return check


@dataclass(frozen=True)
class Where:
    """Where a value comes from, for messages: the file and the section."""

    file: str
    section: str

    def key(self, key: str) -> str:
        return f"{self.file}, [{self.section}] {key}"


def suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        names = [_type_name(a) for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(names)
    if origin is dict:
        _k, v = typing.get_args(tp)
        return "a table" if v is typing.Any else f"a table whose values are each {_type_name(v)}"
    if origin in (tuple, list):
        return f"a list whose items are each {_type_name(typing.get_args(tp)[0])}"
    return {float: "a number", int: "a whole number", bool: "true or false", str: "text",
            typing.Any: "a value"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def coerce(value, tp):
    """``value`` as type ``tp``, or raise TypeError. Whole numbers are numbers too."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a)
            except TypeError:
                continue
        raise TypeError
    if origin is dict:
        _k, v = typing.get_args(tp)
        if not isinstance(value, dict):
            raise TypeError
        return {str(k): coerce(x, v) for k, x in value.items()}
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0]
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise TypeError
        out = [coerce(x, inner) for x in value]
        return tuple(out) if origin is tuple else out
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if tp is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if tp is typing.Any:
        return value
    raise TypeError


def hints(cls) -> dict:
    return typing.get_type_hints(cls)


def check_value(cls, key: str, value, where: Where):
    """``value`` for field ``key`` of ``cls``, typed and checked."""
    f = {f.name: f for f in fields(cls)}[key]
    tp = hints(cls)[key]
    try:
        out = coerce(value, tp)
    except TypeError:
        raise SettingsError(f"{where.key(key)} must be {_type_name(tp)}; got {value!r}.",
                            hint=_example(cls, key)) from None
    check = f.metadata.get("check")
    if out is not None and check is not None:
        problem = check(out)
        if problem:
            raise SettingsError(f"{where.key(key)} must be {problem}; got {value!r}.",
                                hint=_example(cls, key))
    return out


def _example(cls, key: str) -> str:
    f = {f.name: f for f in fields(cls)}[key]
    example = f.metadata.get("example")
    if example is None:
        default = f.default if f.default is not MISSING else f.default_factory()
        example = f"{key} = {toml_value(default)}"
    return f"write it like: {example}"


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if v is None:
        return '""'
    return repr(v)


def read_section(cls, raw, where: Where, *, base=None):
    """An instance of section ``cls`` from the TOML table ``raw``, on top of ``base``
    (default: the declared defaults); returns (instance, keys given)."""
    if not isinstance(raw, dict):
        raise SettingsError(f"{where.file}: [{where.section}] must be a table; got "
                            f"{raw!r}.", hint=f"write [{where.section}] then key = value lines.")
    known = [f.name for f in fields(cls)]
    for key in raw:
        if key not in known:
            raise SettingsError(
                f"{where.file}: unknown key {key!r} in [{where.section}].",
                hint=f"{suggest(key, known)}The keys of [{where.section}] are: "
                f"{', '.join(known)} (docs/settings.md).")
    values = {k: check_value(cls, k, v, where) for k, v in raw.items()}
    start = {} if base is None else {f.name: getattr(base, f.name) for f in fields(cls)}
    return cls(**{**start, **values}), set(values)


def describe(cls) -> list[dict]:
    """Name, type, default, unit and help of every field of a section (for docs)."""
    out = []
    tps = hints(cls)
    for f in fields(cls):
        default = f.default if f.default is not MISSING else f.default_factory()
        out.append({"key": f.name, "type": _type_name(tps[f.name]), "default": default,
                    "unit": f.metadata.get("unit"), "help": f.metadata.get("help", "")})
    return out
