"""One typed settings object, read once from ``loyalist.toml`` next to the store.

Every consumer (scoring, alerts, the worklist, the service report, the retention report,
the web app) takes a :class:`Settings`; nothing else reads ``loyalist.toml``. Each
value remembers where it came from (the default, the file, or a command option for
one run), which ``loyalist config`` shows. The sections and keys are declared in the
modules of this package; ``docs/settings.md`` is generated from the declarations.

>>> from loyalist.settings import Settings
>>> s = Settings()
>>> s.service.first_response_hours, s.report.target_annual_loss
(24.0, 0.05)
>>> s.with_values("service", first_response_hours=2).service.first_response_hours
2.0
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalist.settings._declare import (
    SettingsError,
    Where,
    at_least,
    check_value,
    describe,
    one_of,
    positive,
    read_section,
    setting,
    share,
    suggest,
)
from loyalist.settings.alerts import AlertSettings
from loyalist.settings.council import CouncilSettings
from loyalist.settings.daily import DailySettings
from loyalist.settings.departments import DepartmentSettings
from loyalist.settings.display import DisplaySettings
from loyalist.settings.listening import ListeningSettings
from loyalist.settings.relationship import RelationshipSettings
from loyalist.settings.service import ServicePolicy
from loyalist.settings.team import TeamSettings
from loyalist.settings.worklist import (
    Playbooks,
    WorklistSettings,
    default_playbooks,
    load_playbooks,
    playbooks_from,
)

if TYPE_CHECKING:
    from loyalist.settings.calendar import BusinessCalendar

FILE_NAME = "loyalist.toml"


@dataclass(frozen=True)
class ReportSettings:
    """The ``[report]`` settings."""

    target_annual_loss: float = setting(
        0.05, "The share of customers the firm accepts to lose in a year: the loss rate "
        "is shown against it everywhere.", check=share, unit="share of customers")
    horizon: int | None = setting(
        None, "Days without an order after which a buyer counts as lost (default: from "
        "the customers' own order gaps).", check=positive, unit="days",
        example="horizon = 120")


#: Spark options the ``[engine]`` settings set in their own keys, or Loyalist itself
SPARK_OWN_KEYS = {"spark.master": "master", "spark.driver.memory": "driver_memory",
                  "spark.sql.shuffle.partitions": "shuffle_partitions",
                  "spark.sql.session.timeZone": None, "spark.app.name": None}


def spark_options(table: dict) -> dict[str, str]:
    """``[engine] spark_conf`` as Spark's flat options: TOML reads an unquoted
    ``spark.executor.memory = "4g"`` as nested tables, which are joined back with dots;
    true and false are written as Spark writes them.

    >>> spark_options({"spark": {"executor": {"memory": "4g"}}, "spark.eventLog.enabled": True})
    {'spark.executor.memory': '4g', 'spark.eventLog.enabled': 'true'}
    """
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v)
            for k, v in _flat(table).items()}


def _flat(table: dict, prefix: str = "") -> dict:
    """A table of tables as one table of dotted names, the values as they are."""
    out = {}
    for k, v in table.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        out |= _flat(v, name) if isinstance(v, dict) else {name: v}
    return out


def spark_options_check(table: dict) -> str | None:
    """What is wrong with ``[engine] spark_conf``, or None."""
    flat = _flat(table)
    if any(not isinstance(v, str | int | float | bool) for v in flat.values()):
        return "a table of Spark options whose values are text, numbers or true/false"
    for key in flat:
        if not key.startswith("spark."):
            return f"a table of Spark options, each named spark.something (not {key!r})"
        if key in SPARK_OWN_KEYS:
            own = SPARK_OWN_KEYS[key]
            return (f"without {key}: " + (f"it is [engine] {own}" if own else
                                          "Loyalist sets it (the session works in UTC)"))
    return None


@dataclass(frozen=True)
class EngineSettings:
    """The ``[engine]`` settings: where the store's data lives and how much it may use."""

    kind: str = setting("duckdb", "The engine: duckdb (one file, the default) or spark.",
                        check=one_of("duckdb", "spark"))
    memory_limit: str = setting("2GB", "DuckDB's memory budget; larger work spills to a "
                                "folder next to the store.")
    threads: int | None = setting(None, "DuckDB threads (default: every core).",
                                  check=at_least(1), example="threads = 2")
    warehouse: str | None = setting(None, "Spark: the warehouse folder of the store's "
                                    "tables (Parquet).", example='warehouse = "/data/lake"')
    database: str | None = setting(None, "Spark: a catalog database (or catalog.database) "
                                   "in which every table of the store is also an external "
                                   "table, read by name by other Spark jobs.",
                                   example='database = "loyalist"')
    master: str = setting("local[2]", "Spark: the master a new session connects to "
                          "(when no session is given): local[N], spark://host:port, yarn.",
                          example='master = "spark://head:7077"')
    shuffle_partitions: int = setting(4, "Spark: partitions of each shuffle (joins, "
                                      "group-bys); about 2-3 per executor core.",
                                      check=at_least(1), example="shuffle_partitions = 200")
    driver_memory: str = setting("2g", "Spark: the driver's memory, for a session started "
                                 "by Loyalist (docs/scale.md: its size by customers).",
                                 example='driver_memory = "8g"')
    spark_conf: dict[str, Any] = setting(
        {}, "Spark: further options of a session started by Loyalist (a table of Spark's "
        "own names; its Java options are added to Loyalist's). The master, driver memory "
        "and shuffle partitions have their own keys; the session's time zone stays UTC.",
        check=spark_options_check,
        example='spark_conf = { "spark.executor.memory" = "4g" } (or an [engine.spark_conf] '
        'table)')

    def __post_init__(self):
        # kept as Spark names them (flat, text), whichever way the TOML wrote them
        object.__setattr__(self, "spark_conf", spark_options(self.spark_conf))


@dataclass(frozen=True)
class WebSettings:
    """The ``[web]`` settings of ``loyalist serve``."""

    max_body_mb: float = setting(5.0, "Largest JSON or form body accepted (413 above).",
                                 check=positive, unit="MB")
    max_upload_mb: float = setting(1024.0, "Largest uploaded file (streamed to disk).",
                                   check=positive, unit="MB")
    signin_free_failures: int = setting(4, "Failed sign-ins per account and address before "
                                        "the back-off starts.", check=at_least(1))
    signin_first_wait_seconds: float = setting(30.0, "The first wait after too many "
                                               "failures; doubled by each further one.",
                                               check=positive, unit="seconds")
    signin_max_wait_seconds: float = setting(900.0, "The longest wait.", check=positive,
                                             unit="seconds")


@dataclass(frozen=True)
class IngestSettings:
    """The ``[ingest]`` settings: how exports are read."""

    return_prefix: str | None = setting(
        None, "With loyalist ingest orders FILE --lines: a document id starting with this "
        "text is a return or cancellation (negative quantities always are).",
        example='return_prefix = "C"')


#: section name -> (attribute of Settings, the dataclass declaring its keys)
SECTIONS = {"ingest": IngestSettings, "service": ServicePolicy, "calendar": None,
            "worklist": WorklistSettings, "report": ReportSettings, "engine": EngineSettings,
            "web": WebSettings, "relationship": RelationshipSettings, "alerts": AlertSettings,
            "listening": ListeningSettings, "daily": DailySettings, "team": TeamSettings,
            "display": DisplaySettings, "council": CouncilSettings,
            "departments": DepartmentSettings}
_CALENDAR_KEYS = ("timezone", "workdays", "hours", "holidays")


@dataclass(frozen=True)
class Settings:
    """Every setting in force, typed and checked.

    Build it with :meth:`load` (the file next to a store), then override values for one
    run with :meth:`with_values` or :meth:`with_file`; ``origins`` says where each value
    came from ("default", the file's path, or "option").
    """

    service: ServicePolicy = field(default_factory=ServicePolicy)
    calendar: BusinessCalendar | None = None
    worklist: Playbooks = field(default_factory=default_playbooks)
    report: ReportSettings = field(default_factory=ReportSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    web: WebSettings = field(default_factory=WebSettings)
    relationship: RelationshipSettings = field(default_factory=RelationshipSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    listening: ListeningSettings = field(default_factory=ListeningSettings)
    daily: DailySettings = field(default_factory=DailySettings)
    team: TeamSettings = field(default_factory=TeamSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    council: CouncilSettings = field(default_factory=CouncilSettings)
    departments: DepartmentSettings = field(default_factory=DepartmentSettings)
    #: the file read, if any
    path: str | None = None
    #: "section.key" -> "default", "file", or "option" (a command option for one run)
    origins: dict = field(default_factory=dict, compare=False)

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, where=None) -> Settings:
        """The settings of a store: ``where`` is the store (or its path, or a folder, or a
        TOML file); the file read is ``loyalist.toml`` next to the store. No file: the
        defaults."""
        path = locate(where)
        if path is None or not path.is_file():
            return cls()
        return cls.from_toml(path)

    @classmethod
    def from_toml(cls, path) -> Settings:
        """The settings of one TOML file, every section checked."""
        path = Path(path)
        doc = _read_toml(path)
        where = str(path)
        unknown = [k for k in doc if k not in SECTIONS]
        if unknown:
            raise SettingsError(f"{where}: unknown section [{unknown[0]}].",
                                hint=f"{suggest(unknown[0], SECTIONS)}The sections are: "
                                + ", ".join(f"[{s}]" for s in SECTIONS) + " (docs/settings.md).")
        out = cls(path=where)
        return out._apply(doc, where)

    def _apply(self, doc: dict, where: str, *, origin: str | None = None) -> Settings:
        origin = origin or "file"
        changes, origins = {}, dict(self.origins)
        for name, cls in SECTIONS.items():
            if name not in doc:
                continue
            raw = doc[name]
            if name == "calendar":
                changes["calendar"] = _calendar(raw, where)
                origins.update({f"calendar.{k}": origin for k in raw})
            elif name == "worklist":
                changes["worklist"] = playbooks_from(doc, where)
                given = [k for k in raw if k not in ("playbook", "use_defaults")]
                origins.update({f"worklist.{k}": origin for k in given})
                if "playbook" in raw or "use_defaults" in raw:
                    origins["worklist.playbooks"] = origin
            else:
                section, given = read_section(cls, raw, Where(where, name),
                                              base=getattr(self, name))
                changes[name] = section
                origins.update({f"{name}.{k}": origin for k in given})
        return replace(self, **changes, origins=origins)

    # -- overriding for one run ------------------------------------------------------------
    def with_values(self, section: str, **values) -> Settings:
        """These settings with ``values`` of one section changed (a command's options);
        each value is checked like the file's."""
        cls = SECTIONS.get(section)
        if cls is None:
            raise SettingsError(f"Unknown settings section {section!r}.",
                                hint=f"{suggest(section, SECTIONS)}sections: "
                                + ", ".join(SECTIONS))
        where = Where("option", section)
        known = [f.name for f in fields(cls)]
        for key in values:
            if key not in known:
                raise SettingsError(f"Unknown setting {section}.{key}.",
                                    hint=f"{suggest(key, known)}keys: {', '.join(known)}")
        checked = {k: check_value(cls, k, v, where) for k, v in values.items()
                   if v is not None}
        if not checked:
            return self
        current = self.worklist.settings if section == "worklist" else getattr(self, section)
        new = replace(current, **checked)
        if section == "worklist":
            new = replace(self.worklist, settings=new)
        origins = {**self.origins, **{f"{section}.{k}": "option" for k in checked}}
        return replace(self, **{section: new}, origins=origins)

    def with_file(self, path, sections=None) -> Settings:
        """These settings with the sections of another TOML file taking over for one run
        (``service --policy FILE``, ``worklist --playbooks FILE``)."""
        path = Path(path)
        doc = _read_toml(path)
        if sections is not None:
            doc = {k: v for k, v in doc.items() if k in sections}
        return self._apply(doc, str(path), origin=f"option ({path})")

    def with_playbooks(self, path) -> Settings:
        """A playbook file (``[[playbook]]`` tables over the shipped defaults) for one run."""
        return replace(self, worklist=load_playbooks(path),
                       origins={**self.origins, "worklist.playbooks": f"option ({path})"})

    def with_teams(self, path) -> Settings:
        """A ``[teams]`` table (category = "team") taking over the category -> team map."""
        from loyalist.contract.config import read_table

        teams = read_table(path, "teams", example='invoice = "Billing"')
        checked = check_value(ServicePolicy, "team_for_category", teams,
                              Where(str(path), "teams"))
        return replace(self, service=replace(self.service, team_for_category=checked),
                       origins={**self.origins,
                                "service.team_for_category": f"option ({path})"})

    # -- showing ---------------------------------------------------------------------------
    def table(self) -> list[dict]:
        """Every setting in force: section, key, value, where it came from, and help."""
        rows = []
        for name, cls in SECTIONS.items():
            if cls is None:
                cal = self.calendar
                for key in _CALENDAR_KEYS:
                    value = None if cal is None else _calendar_value(cal, key)
                    rows.append({"section": name, "key": key, "value": value,
                                 "origin": self.origins.get(f"calendar.{key}", "default"),
                                 "help": _CALENDAR_HELP[key]})
                continue
            current = self.worklist.settings if name == "worklist" else getattr(self, name)
            for d in describe(cls):
                rows.append({"section": name, "key": d["key"],
                             "value": getattr(current, d["key"]),
                             "origin": self.origins.get(f"{name}.{d['key']}", "default"),
                             "help": d["help"]})
            if name == "worklist":
                rows.append({"section": name, "key": "playbooks",
                             "value": [p.name for p in self.worklist],
                             "origin": self.origins.get("worklist.playbooks", "default"),
                             "help": "The playbooks in force (loyalist playbooks shows them)."})
        return rows

    def to_dict(self) -> dict:
        """The settings in force as JSON-ready data, with where each value came from."""
        out: dict = {"file": self.path, "settings": {}}
        for row in self.table():
            out["settings"].setdefault(row["section"], {})[row["key"]] = {
                "value": _plain(row["value"]), "origin": row["origin"]}
        return out


def locate(where) -> Path | None:
    """The ``loyalist.toml`` that belongs to ``where`` (a store, a store path, a folder
    or the TOML file itself)."""
    if where is None:
        return None
    where = getattr(where, "path", where)
    if str(where) == ":memory:":
        return None
    p = Path(where)
    if p.suffix == ".toml":
        return p
    if p.is_dir() and ((p / FILE_NAME).is_file() or not (p.parent / FILE_NAME).is_file()):
        return p / FILE_NAME
    # a store (a file, or a Spark warehouse folder): the settings beside it
    return p.parent / FILE_NAME


def _read_toml(path: Path) -> dict:
    if not path.is_file():
        raise SettingsError(f"Settings file not found: {str(path)!r}.",
                            hint="Give the path of a TOML file (docs/settings.md).")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path} is not valid TOML: {e}.",
                            hint="Fix the file; a valid line looks like "
                            "first_response_hours = 4 under [service].") from None


def _calendar(raw, where: str) -> BusinessCalendar:
    from loyalist.errors import DataError
    from loyalist.settings.calendar import BusinessCalendar

    if not isinstance(raw, dict):
        raise SettingsError(f"{where}: [calendar] must be a table.",
                            hint='write [calendar] then lines like hours = ["09:00", "17:00"]')
    for key in raw:
        if key not in _CALENDAR_KEYS:
            raise SettingsError(f"{where}: unknown key {key!r} in [calendar].",
                                hint=f"{suggest(key, _CALENDAR_KEYS)}The keys of [calendar] "
                                f"are: {', '.join(_CALENDAR_KEYS)}.")
    try:
        return BusinessCalendar.from_dict(raw)
    except DataError as e:
        raise SettingsError(f"{where}, [calendar]: {e.message}",
                            hint=e.hint or 'e.g. hours = ["09:00", "17:00"]') from None


_CALENDAR_HELP = {
    "timezone": "IANA time zone of the opening hours (e.g. Europe/Berlin). No [calendar]: "
                "service times count in wall-clock hours.",
    "workdays": "Open weekdays (mon..sun); default Monday to Friday.",
    "hours": 'Opening hours, e.g. ["09:00", "17:00"], split hours, or per weekday.',
    "holidays": "Dates that are closed.",
}


def _calendar_value(cal: BusinessCalendar, key: str):
    if key == "holidays":
        return [str(h) for h in cal.holidays]
    if key == "workdays":
        return [("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in cal.workdays]
    return getattr(cal, key)


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def __getattr__(name: str):
    # the calendar needs numpy and pandas: imported when first asked for, so commands
    # that never use it (loyalist --help, config) start fast
    if name == "BusinessCalendar":
        from loyalist.settings.calendar import BusinessCalendar

        return BusinessCalendar
    raise AttributeError(f"module 'loyalist.settings' has no attribute {name!r}")


__all__ = ["AlertSettings", "BusinessCalendar", "DailySettings", "DepartmentSettings",
           "EngineSettings",
           "ListeningSettings", "Playbooks", "RelationshipSettings", "ReportSettings",
           "DisplaySettings", "ServicePolicy", "Settings", "SettingsError", "TeamSettings",
           "WebSettings",
           "WorklistSettings", "load_playbooks", "locate"]
