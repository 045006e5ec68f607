"""The worklist's settings and playbooks: what the team does about each reason to
contact a customer (``[worklist]`` and ``[[worklist.playbook]]`` in ``loyalist.toml``).

The defaults ship in ``playbooks.toml`` next to this module. ``loyalist.toml`` overrides
them: settings under ``[worklist]``, playbooks as ``[[worklist.playbook]]`` (merged by
name onto the defaults; ``enabled = false`` drops one). Every mistake raises a
:class:`~loyalist.settings.SettingsError` naming the file, the playbook and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from loyalist.contract.derived import ALERT_KINDS, MUST_DO, RELATIONSHIP_SEGMENTS
from loyalist.errors import DataError, SourceError
from loyalist.settings._declare import (
    SettingsError,
    Where,
    at_least,
    read_section,
    setting,
    suggest,
)

OWNER_RULES = ("account_manager", "team")
#: the matters a ``no_word_on`` playbook can watch
MATTER_KINDS = ("request", "order")
#: the customer council's triggers: a promise made to a member (open, due within
#: ``[council] remind_days`` or overdue; the item goes to the promise's owner), and a
#: member who stopped attending
COUNCIL_TRIGGERS = ("promise", "stopped_attending")
_EXAMPLE = 'name = "save_call", min_p_leave = 0.5, action = "Save call"'


@dataclass(frozen=True)
class Playbook:
    """One playbook: its trigger, what to do, by whom and by when.

    A customer matches when every trigger key given holds: ``alert`` (an alert of that
    kind is open), ``whisper`` (a whisper of that family is among their reasons),
    ``relationship`` (their relationship segment, from the last ``loyalist relationship``
    run, is one of these: at-risk promoter, silent promoter...), ``segment`` (one of
    these customer segments), ``value_top`` (among the top share of customers by value
    at stake), ``min_p_leave`` / ``max_p_leave`` and ``min_p_promoter``; and no alert of
    kind ``unless_alert`` is open (that reason has its own, must-do, playbook).
    ``council``: ``promise`` (a commitment made to a council member is open and due
    within ``[council] remind_days``, or overdue: the item is the promise's owner's, due
    on its date, and must-do) or ``stopped_attending`` (a member missed the latest
    meetings). ``max_age_days`` (alert playbooks): an alert whose newest evidence is older than
    this no longer triggers the playbook (a follow-up owed long after fulfilment is no
    longer a follow-up). ``no_word_on`` (``request`` or ``order``): the customer has an
    open matter of that kind with no word to them for longer than ``[worklist]
    inform_request_after_days`` / ``inform_order_after_days`` (keep them informed; must-do
    for customers worth ``inform_must_do_value`` or more). ``named_competitor``: a
    valuable customer named one of the firm's competitors lately (``[listening]``).
    """

    name: str
    action: str
    script: str = ""
    alert: str | None = None
    whisper: str | None = None
    relationship: tuple[str, ...] = ()
    segment: tuple[str, ...] = ()
    value_top: float | None = None
    min_p_leave: float | None = None
    max_p_leave: float | None = None
    min_p_promoter: float | None = None
    unless_alert: str | None = None
    no_word_on: str | None = None
    named_competitor: bool = False
    council: str | None = None
    due_in_days: float = 3
    owner: str = "account_manager"
    team: str | None = None
    cap_per_owner_per_day: int | None = None
    max_age_days: float | None = None
    control_share: float | None = None
    contact_helps: float = 0.1
    enabled: bool = True

    @property
    def must_do(self) -> bool:
        """Service the customer is owed (never held out, listed before everything else).
        A ``no_word_on`` playbook is must-do per customer, by value (not here)."""
        return self.alert in MUST_DO or self.council == "promise"

    def held_out_share(self, default: float) -> float:
        """The share of newly eligible customers held out as controls: none for must-do,
        else the playbook's own ``control_share``, else ``default``."""
        if self.must_do:
            return 0.0
        return default if self.control_share is None else self.control_share

    @property
    def trigger(self) -> str:
        parts = [f"alert {self.alert}"] if self.alert else []
        parts += [f"whisper {self.whisper}"] if self.whisper else []
        parts += [f"no word on an open {self.no_word_on}"] if self.no_word_on else []
        parts += ["named a competitor"] if self.named_competitor else []
        parts += [f"council {self.council.replace('_', ' ')}"] if self.council else []
        if self.relationship:
            parts.append(f"relationship in {', '.join(self.relationship)}")
        parts += [f"segment in {', '.join(self.segment)}"] if self.segment else []
        if self.value_top is not None:
            parts.append(f"top {self.value_top:.0%} by value")
        for key, sign in (("min_p_leave", ">="), ("max_p_leave", "<="),
                          ("min_p_promoter", ">=")):
            v = getattr(self, key)
            if v is not None:
                parts.append(f"{key.removeprefix('min_').removeprefix('max_')} {sign} {v:g}")
        if self.max_age_days is not None:
            parts.append(f"at most {self.max_age_days:g} days old")
        if self.unless_alert:
            parts.append(f"no {self.unless_alert} alert open")
        return "; ".join(parts) or "every scored customer"


def _positive(v) -> str | None:
    return None if v > 0 else "a number above 0"


def _control(v) -> str | None:
    return None if 0 <= v <= 0.9 else "a share between 0 and 0.9"


@dataclass(frozen=True)
class WorklistSettings:
    """The ``[worklist]`` settings."""

    window_days: int = setting(90, "How long a control assignment holds, and the window "
                               "over which impact is measured.", check=at_least(1),
                               unit="days")
    reopen_after_days: int = setting(30, "After a logged outcome, no new item of that "
                                     "playbook for this customer for this long.",
                                     check=at_least(1), unit="days")
    max_attempts: int = setting(3, "No-answer outcomes before an item closes by itself.",
                                check=at_least(1))
    seed: int = setting(0, "Seed of the control-group draw.")
    prior_strength: float = setting(200.0, "Customers' worth of weight on each playbook's "
                                    "contact_helps before the control groups speak.",
                                    check=at_least(0))
    default_team: str = setting("Retention team", "Owner of items whose customer has no "
                                "account manager and whose playbook names no team.")
    control_share: float = setting(0.1, "Share of each discretionary playbook's customers "
                                   "held out as a control group (a playbook may set its "
                                   "own).", check=_control)
    any_agent_may_close: bool = setting(False, "Whether any agent may close another "
                                        "person's item (else its owner and admins only).")
    cap_scale: float = setting(1.0, "Multiplies every playbook's cap_per_owner_per_day "
                               "(2 doubles what each owner is given a day; the rest "
                               "waits in the backlog).", check=_positive)
    page_size: int = setting(25, "Items per page of the worklist page (the page and the "
                             "API accept another size up to 500).", check=at_least(1))
    inform_request_after_days: float = setting(
        5.0, "Keep them informed: an open request (not resolved) with no word to the "
        "customer (no answer, no contact logged against it) for longer than this becomes "
        "an item of the playbook with no_word_on = \"request\".", check=_positive,
        unit="days")
    inform_order_after_days: float = setting(
        7.0, "Keep them informed: an open order (not delivered, not cancelled) with no "
        "word to the customer (no acknowledgement, no contact logged against it) for "
        "longer than this becomes an item of the playbook with no_word_on = \"order\".",
        check=_positive, unit="days")
    inform_max_age_days: float = setting(
        60.0, "Requests and orders opened longer ago than this are not open matters any "
        "more, whatever the records say (an export that never closes old tickets).",
        check=_positive, unit="days")
    inform_must_do_value: float = setting(
        2500.0, "Keep them informed: customers whose value at stake (lifetime value, else "
        "spend in the last 365 days) is at least this get the update as a must-do item; "
        "the others as discretionary outreach (ranked, held out, within the caps).",
        check=at_least(0), unit="currency")
    inform_closed_statuses: tuple[str, ...] = setting(
        ("fulfilled", "delivered", "completed", "complete", "closed", "cancelled",
         "canceled", "returned", "refunded"),
        "Order statuses (any case) that close an order with no fulfilment date: nothing "
        "left to tell the customer about.")


@dataclass(frozen=True)
class Playbooks:
    """The settings and the enabled playbooks, in the order they are tried."""

    settings: WorklistSettings
    playbooks: tuple[Playbook, ...]
    sources: tuple[str, ...] = field(default=())

    def __iter__(self):
        return iter(self.playbooks)

    def __len__(self) -> int:
        return len(self.playbooks)

    def get(self, name: str) -> Playbook:
        for p in self.playbooks:
            if p.name == name:
                return p
        raise DataError(f"No playbook {name!r}.",
                        hint=f"Playbooks: {', '.join(p.name for p in self.playbooks)}.")


_NUMBER = (int, float)
_TYPES = {f.name: f.type for f in fields(Playbook)}


def _fail(where: str, message: str, hint: str) -> SettingsError:
    return SettingsError(f"{where}: {message}", hint=hint)


def _kind(annotation: str) -> str:
    first = annotation.split(" | ")[0]
    return {"float": "number", "int": "int", "bool": "bool"}.get(first, "str")


_LISTS = {"segment": 'write e.g. segment = ["key account", "medium"]',
          "relationship": 'write e.g. relationship = ["at-risk promoter"]'}


def _check_value(where: str, key: str, value, annotation: str):
    if key in _LISTS:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise _fail(where, f"{key!r} must be a segment name or a list of them; got {value!r}.",
                    _LISTS[key])
    kind = _kind(annotation)
    ok = {"str": isinstance(value, str), "bool": isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, _NUMBER) and not isinstance(value, bool)}[kind]
    if not ok:
        name = {"str": "text", "bool": "true or false", "int": "a whole number",
                "number": "a number"}[kind]
        raise _fail(where, f"{key!r} must be {name}; got {value!r}.",
                    f"fix {key} (docs/worklist.md lists every key).")
    return value


def _share(where, key, v, low=0.0, high=1.0, *, open_low=False):
    if v is not None and (v < low or v > high or (open_low and v <= low)):
        raise _fail(where, f"{key!r} must be between {low:g} and {high:g}; got {v!r}.",
                    f"set {key} to a share such as 0.1.")


def _playbook(raw: dict, where: str) -> Playbook:
    unknown = sorted(set(raw) - set(_TYPES))
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}.",
                    f"{suggest(unknown[0], _TYPES)}use only: {', '.join(_TYPES)}.")
    for key in ("name", "action"):
        if key not in raw:
            raise _fail(where, f"missing key {key!r}.", f"every playbook needs {key}, e.g. "
                        f"{_EXAMPLE}.")
    values = {k: _check_value(where, k, v, str(_TYPES[k])) for k, v in raw.items()}
    pb = Playbook(**values)
    for key in ("alert", "unless_alert"):
        kind = getattr(pb, key)
        if kind is not None and kind not in ALERT_KINDS:
            raise _fail(where, f"{key!r} {kind!r} is not an alert kind.",
                        f"{suggest(kind, ALERT_KINDS)}use one of: {', '.join(ALERT_KINDS)}.")
    if pb.council is not None and pb.council not in COUNCIL_TRIGGERS:
        raise _fail(where, f"'council' {pb.council!r} is not a council trigger.",
                    f"{suggest(pb.council, COUNCIL_TRIGGERS)}use one of: "
                    f"{', '.join(COUNCIL_TRIGGERS)}.")
    for name in pb.relationship:
        if name not in RELATIONSHIP_SEGMENTS:
            raise _fail(where, f"'relationship' {name!r} is not a relationship segment.",
                        f"{suggest(name, RELATIONSHIP_SEGMENTS)}use one of: "
                        f"{', '.join(RELATIONSHIP_SEGMENTS)}.")
    if pb.no_word_on is not None and pb.no_word_on not in MATTER_KINDS:
        raise _fail(where, f"'no_word_on' {pb.no_word_on!r} is not a kind of matter.",
                    f"use one of: {', '.join(MATTER_KINDS)}.")
    if pb.owner not in OWNER_RULES:
        raise _fail(where, f"'owner' {pb.owner!r} is not an owner rule.",
                    "use 'account_manager' (customers.owner, else the team) or 'team'.")
    for key in ("value_top", "min_p_leave", "max_p_leave", "min_p_promoter"):
        _share(where, key, getattr(pb, key))
    _share(where, "contact_helps", pb.contact_helps, open_low=True)
    _share(where, "control_share", pb.control_share, high=0.9)
    if pb.due_in_days < 0:
        raise _fail(where, f"'due_in_days' must be 0 or more; got {pb.due_in_days!r}.",
                    "give the days allowed, e.g. due_in_days = 3.")
    if pb.cap_per_owner_per_day is not None and pb.cap_per_owner_per_day < 1:
        raise _fail(where, "'cap_per_owner_per_day' must be 1 or more; got "
                    f"{pb.cap_per_owner_per_day!r}.", "leave it out for no cap.")
    if pb.max_age_days is not None and (pb.max_age_days <= 0 or pb.alert is None):
        raise _fail(where, f"'max_age_days' needs an 'alert' trigger and a positive number of "
                    f"days; got {pb.max_age_days!r}.", "e.g. alert = 'not_followed_up' and "
                    "max_age_days = 30, or leave it out.")
    if pb.must_do and pb.control_share:
        raise _fail(where, f"a must-do playbook ({pb.alert}) cannot hold out a control group.",
                    "remove control_share: service a customer is owed is never withheld.")
    return pb


def _settings(raw: dict, where: str, base: WorklistSettings) -> WorklistSettings:
    raw = {k: v for k, v in raw.items() if k not in ("playbook", "use_defaults")}
    return read_section(WorklistSettings, raw, Where(where, "worklist"), base=base)[0]


def _read(path: Path) -> dict:
    if not path.is_file():
        raise SourceError(f"Playbook file not found: {str(path)!r}.",
                          hint="give a TOML file with [[playbook]] tables (docs/worklist.md).")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError(f"{str(path)!r} is not valid TOML: {e}.",
                            hint="fix the file; see docs/worklist.md for an example.") from None


def _build(doc: dict, where: str, base: Playbooks | None) -> Playbooks:
    section = doc.get("worklist", {})
    if not isinstance(section, dict):
        raise _fail(where, "[worklist] must be a table.", "write [worklist] then key = value lines.")
    raw_books = section.get("playbook", doc.get("playbook", []))
    if not isinstance(raw_books, list) or not all(isinstance(b, dict) for b in raw_books):
        raise _fail(where, "playbooks must be [[worklist.playbook]] tables.",
                    f"write each as [[worklist.playbook]] followed by lines like {_EXAMPLE}.")
    settings = _settings(section, where, base.settings if base else WorklistSettings())
    use_defaults = section.get("use_defaults", True)
    if not isinstance(use_defaults, bool):
        raise _fail(where, f"'use_defaults' must be true or false; got {use_defaults!r}.",
                    "write use_defaults = false to start from no playbooks.")
    books = {p.name: p for p in base.playbooks} if base and use_defaults else {}
    seen = set()
    for i, raw in enumerate(raw_books, 1):
        name = raw.get("name")
        at = f"{where}, playbook {name!r}" if name else f"{where}, playbook #{i}"
        if name in seen:
            raise _fail(at, "the name is used twice.", "give each playbook its own name.")
        seen.add(name)
        if name not in books and "action" not in raw and suggest(name, books):
            raise _fail(at, "no playbook has this name, and a new one needs an action.",
                        f"{suggest(name, books)}(playbooks: {', '.join(books)})")
        if name in books:  # an override: merge onto the default
            merged = {k: v for k, v in books[name].__dict__.items()}
            merged["segment"] = list(merged["segment"])
            merged["relationship"] = list(merged["relationship"])
            merged.update(raw)
            raw = {k: v for k, v in merged.items() if v is not None}
        books[name] = _playbook(raw, at)
    enabled = tuple(p for p in books.values() if p.enabled)
    return Playbooks(settings, enabled, ((*base.sources,) if base else ()) + (where,))


def default_playbooks() -> Playbooks:
    """The playbooks that ship with Loyalist."""
    text = resources.files("loyalist.settings").joinpath("playbooks.toml").read_text("utf-8")
    return _build(tomllib.loads(text), "default playbooks.toml", None)


def load_playbooks(path=None, *, store=None) -> Playbooks:
    """The playbooks in force: from a playbook file ``path`` (over the shipped defaults),
    else the store's settings (``loyalist.toml`` next to it), else the defaults."""
    if path is not None:
        return _build(_read(Path(path)), str(path), default_playbooks())
    if store is not None and hasattr(store, "settings"):
        return store.settings.worklist
    return default_playbooks()


def playbooks_from(doc: dict, where: str) -> Playbooks:
    """The playbooks of a parsed ``loyalist.toml`` (its ``[worklist]`` table)."""
    return _build({"worklist": doc.get("worklist", {})}, where, default_playbooks())


def resolve(playbooks, store) -> Playbooks:
    """``playbooks`` as given (a Playbooks, a path, or None for the store's own)."""
    if isinstance(playbooks, Playbooks):
        return playbooks
    return load_playbooks(playbooks, store=store)
