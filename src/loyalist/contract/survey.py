"""Survey definitions: which items a survey asks, what each measures, and on what scale.

A definition is a TOML file (the default relationship survey ships as
``relationship_survey.toml`` next to this module). It names

* **constructs** (trust, commitment, satisfaction...), each measured by several items,
  some of them reversed (agreeing means *less* of the construct);
* the **NPS** item (0-10);
* **attributes** of the firm's service, each with an *importance* item (how much the
  customer cares) and a *performance* item (how well the firm delivers);
* **check-in** questions for long-standing customers (open text or a scale).

Answers arrive in long form in the ``survey_answers`` table (one row per item
answered); :meth:`Survey.item_table` is what a check of those rows joins against.
Every mistake in a definition raises :class:`~loyalist.errors.DataError` naming the
file, the item and what to write instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from loyalist.errors import DataError, SourceError

ROLES = ("construct", "nps", "importance", "performance", "checkin")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_EXAMPLE = '[[construct]]\nname = "trust"\nitems = [{ code = "trust_1", text = "..." }]'


@dataclass(frozen=True)
class Item:
    """One question. ``group`` is the construct or attribute it belongs to."""

    code: str
    text: str
    role: str
    group: str | None = None
    low: float = 1
    high: float = 7
    reversed: bool = False
    open: bool = False
    labels: tuple[str, ...] = ()

    def score(self, value):
        """The answer with reversed items turned round (``low + high - value``)."""
        return self.low + self.high - value if self.reversed else value


@dataclass(frozen=True)
class Construct:
    name: str
    label: str
    items: tuple[str, ...]
    basis: str = ""


@dataclass(frozen=True)
class Attribute:
    name: str
    label: str
    importance: str
    performance: str


@dataclass(frozen=True)
class Survey:
    """A survey definition (see the module docstring)."""

    name: str
    title: str
    items: dict[str, Item]
    constructs: dict[str, Construct]
    attributes: dict[str, Attribute]
    nps: str | None = None
    checkin: tuple[str, ...] = ()
    checkin_min_tenure_days: float = 730
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def item_table(self) -> pd.DataFrame:
        """One row per item: code, role, group, scale, reversed, open."""
        return pd.DataFrame([{"item": i.code, "role": i.role, "group": i.group,
                              "low": float(i.low), "high": float(i.high),
                              "reversed": i.reversed, "open": i.open}
                             for i in self.items.values()])

    def performance_items(self) -> dict[str, str]:
        """attribute -> its performance item."""
        return {a.name: a.performance for a in self.attributes.values()}

    def __repr__(self) -> str:
        return (f"Survey({self.name!r}: {len(self.constructs)} constructs, "
                f"{len(self.attributes)} attributes, {len(self.items)} items)")


def _fail(where: str, message: str, hint: str) -> DataError:
    return DataError(f"{where}: {message}", hint=hint)


def _scale(raw, where: str, default: tuple[float, float]) -> tuple[float, float]:
    if raw is None:
        return default
    ok = (isinstance(raw, list | tuple) and len(raw) == 2
          and all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw))
    if not ok or raw[0] >= raw[1]:
        raise _fail(where, f"scale must be [lowest, highest] with lowest < highest; got {raw!r}.",
                    "write e.g. scale = [1, 7].")
    return float(raw[0]), float(raw[1])


def _text(raw: dict, key: str, where: str) -> str:
    v = raw.get(key)
    if not isinstance(v, str) or not v.strip():
        raise _fail(where, f"missing or empty {key!r}.", f"give {key} = \"...\" (words).")
    return v.strip()


def _keys(raw, allowed: set[str], where: str) -> dict:
    if not isinstance(raw, dict):
        raise _fail(where, f"expected a table; got {raw!r}.", f"see the example: {_EXAMPLE}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}.", f"use only: {', '.join(sorted(allowed))}.")
    return raw


class _Builder:
    def __init__(self, where: str, scale: tuple[float, float]):
        self.where, self.scale = where, scale
        self.items: dict[str, Item] = {}

    def add(self, item: Item, at: str) -> None:
        if not _CODE.match(item.code):
            raise _fail(at, f"item code {item.code!r} is not a plain lower-case name.",
                        "use letters, digits and _ (e.g. trust_honest).")
        old = self.items.get(item.code)
        if old is not None:
            if old.group != item.group and old.role == item.role == "construct":
                raise _fail(at, f"item {item.code!r} is in two constructs: {old.group} and "
                            f"{item.group}.", "each item measures one construct: remove it "
                            "from one of them, or give the other a new code.")
            raise _fail(at, f"item code {item.code!r} is used twice ({old.role} "
                        f"{old.group or ''} and {item.role} {item.group or ''}).".replace(" )", ")"),
                        "give every item its own code.")
        self.items[item.code] = item

    def question(self, raw, at: str, role: str, group: str | None,
                 allow_reversed: bool = False) -> Item:
        allowed = {"code", "text", "scale", "labels", "open"} | (
            {"reversed"} if allow_reversed else set())
        raw = _keys(raw, allowed, at)
        code = raw.get("code")
        if not isinstance(code, str):
            raise _fail(at, "an item without a 'code'.", 'give code = "trust_honest".')
        at = f"{at}, item {code!r}"
        rev = raw.get("reversed", False)
        if not isinstance(rev, bool):
            raise _fail(at, f"'reversed' must be true or false; got {rev!r}.", "write reversed = true.")
        is_open = raw.get("open", False)
        if not isinstance(is_open, bool) or (is_open and role != "checkin"):
            raise _fail(at, "only check-in questions may be open (text) answers.",
                        "remove open = true, or move the question under [checkin].")
        labels = raw.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise _fail(at, "'labels' must be a list of words.", 'write labels = ["low", "high"].')
        low, high = _scale(raw.get("scale"), at, self.scale)
        return Item(code=code, text=_text(raw, "text", at), role=role, group=group, low=low,
                    high=high, reversed=rev, open=is_open, labels=tuple(labels))


def survey_from_dict(doc: dict, where: str = "survey definition") -> Survey:
    """Build and check a :class:`Survey` from a parsed TOML document."""
    _keys(doc, {"name", "title", "scale", "construct", "nps", "attribute", "checkin",
                "notes"}, where)
    name = doc.get("name", "relationship")
    if not isinstance(name, str) or not _CODE.match(name):
        raise _fail(where, f"survey name {name!r} is not a plain lower-case name.",
                    'write name = "relationship".')
    b = _Builder(where, _scale(doc.get("scale"), where, (1.0, 7.0)))
    constructs: dict[str, Construct] = {}
    raw_constructs = doc.get("construct", [])
    if not isinstance(raw_constructs, list):
        raise _fail(where, "constructs must be [[construct]] tables.", f"e.g. {_EXAMPLE}")
    for k, raw in enumerate(raw_constructs, 1):
        raw = _keys(raw, {"name", "label", "basis", "items"}, f"{where}, construct #{k}")
        cname = raw.get("name")
        at = f"{where}, construct {cname!r}"
        if not isinstance(cname, str) or not _CODE.match(cname):
            raise _fail(f"{where}, construct #{k}", f"construct name {cname!r} is not a plain "
                        "lower-case name.", 'write name = "trust".')
        if cname in constructs:
            raise _fail(at, "the construct is defined twice.", "merge the two into one.")
        items = raw.get("items")
        if not isinstance(items, list) or not items:
            raise _fail(at, "a construct needs a list of items.",
                        'write items = [{ code = "trust_1", text = "..." }, ...].')
        codes = []
        for raw_item in items:
            item = b.question(raw_item, at, "construct", cname, allow_reversed=True)
            b.add(item, at)
            codes.append(item.code)
        constructs[cname] = Construct(cname, raw.get("label", cname.replace("_", " ").title()),
                                      tuple(codes), raw.get("basis", ""))
    nps = None
    if "nps" in doc:
        raw = dict(doc["nps"]) if isinstance(doc["nps"], dict) else doc["nps"]
        if isinstance(raw, dict):
            raw.setdefault("scale", [0, 10])
        item = b.question(raw, f"{where}, [nps]", "nps", None)
        b.add(item, f"{where}, [nps]")
        nps = item.code
    attributes: dict[str, Attribute] = {}
    raw_attrs = doc.get("attribute", [])
    if not isinstance(raw_attrs, list):
        raise _fail(where, "attributes must be [[attribute]] tables.",
                    'write [[attribute]] then name = "price", importance = "...", '
                    'performance = "...".')
    for k, raw in enumerate(raw_attrs, 1):
        raw = _keys(raw, {"name", "label", "importance", "performance", "importance_code",
                          "performance_code", "scale"}, f"{where}, attribute #{k}")
        aname = raw.get("name")
        if not isinstance(aname, str) or not _CODE.match(aname):
            raise _fail(f"{where}, attribute #{k}", f"attribute name {aname!r} is not a plain "
                        "lower-case name.", 'write name = "price".')
        at = f"{where}, attribute {aname!r}"
        if aname in attributes:
            raise _fail(at, "the attribute is defined twice.", "merge the two into one.")
        pair = []
        for role, prefix in (("importance", "imp"), ("performance", "perf")):
            q = {"code": raw.get(f"{role}_code", f"{prefix}_{aname}"),
                 "text": raw.get(role)}
            if "scale" in raw:
                q["scale"] = raw["scale"]
            item = b.question(q, at, role, aname)
            b.add(item, at)
            pair.append(item.code)
        attributes[aname] = Attribute(aname, raw.get("label", aname.replace("_", " ")), *pair)
    checkin, tenure = (), 730.0
    if "checkin" in doc:
        raw = _keys(doc["checkin"], {"min_tenure_days", "question"}, f"{where}, [checkin]")
        tenure = raw.get("min_tenure_days", 730)
        if isinstance(tenure, bool) or not isinstance(tenure, int | float) or tenure < 0:
            raise _fail(f"{where}, [checkin]", f"min_tenure_days must be 0 or more; got "
                        f"{tenure!r}.", "write min_tenure_days = 730.")
        codes = []
        for q in raw.get("question", []):
            item = b.question(q, f"{where}, [checkin]", "checkin", None)
            b.add(item, f"{where}, [checkin]")
            codes.append(item.code)
        checkin = tuple(codes)
    if not b.items:
        raise _fail(where, "the survey has no items.", f"add constructs, e.g. {_EXAMPLE}")
    notes = doc.get("notes", [])
    return Survey(name=name, title=doc.get("title", name), items=b.items,
                  constructs=constructs, attributes=attributes, nps=nps, checkin=checkin,
                  checkin_min_tenure_days=float(tenure), source=where,
                  notes=tuple(notes) if isinstance(notes, list) else ())


def load_survey(path=None) -> Survey:
    """The survey defined in the TOML file at ``path``; the default relationship survey
    when ``path`` is None."""
    if path is None:
        text = resources.files("loyalist.contract").joinpath(
            "relationship_survey.toml").read_text("utf-8")
        return survey_from_dict(tomllib.loads(text), "default relationship_survey.toml")
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"Survey definition not found: {str(p)!r}.",
                          hint="give a TOML file with [[construct]] and [[attribute]] tables "
                          "(docs/relationship.md), or leave it out for the default survey.")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{str(p)!r} is not valid TOML: {e}.",
                        hint=f"fix the file; a valid construct looks like {_EXAMPLE}") from None
    return survey_from_dict(doc, str(p))


def resolve_survey(survey) -> Survey:
    """``survey`` as given (a Survey, a path, or None for the default)."""
    return survey if isinstance(survey, Survey) else load_survey(survey)
