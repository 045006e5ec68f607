"""One view of the open items, shared by the web page, the API and the command line:
filtered, sorted by any column, paged, and exported as CSV for a dialer or a CRM.

``worklist_view(store, ...)`` returns a :class:`View`: the rows of one page (with the
customer's name and segment and the owner's name), the total, the page count and the
choices for each filter. The CSV of a view holds every row that matches, not one page.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import pandas as pd

from loyalist.decisions.worklist.outcomes import open_items, people, today_of
from loyalist.errors import DataError

#: columns a view sorts by (name -> the column sorted), in the page's order
SORTS = {"priority": "priority", "customer": "name", "segment": "segment",
         "playbook": "playbook", "matter": "matter", "owner": "owner_name",
         "due": "due_at", "overdue": "overdue_days", "p_leave": "p_leave",
         "value": "value", "saved": "expected_value_saved", "opened": "opened_at",
         "attempts": "attempts"}
#: the CSV's columns
CSV_COLUMNS = ["priority", "item_id", "customer_id", "name", "phone", "email", "segment",
               "matter", "playbook", "must_do", "owner", "owner_name", "due_at",
               "overdue_days", "status", "action", "why", "alarm", "p_leave", "value",
               "expected_value_saved", "attempts", "also"]
MAX_PAGE_SIZE = 500


@dataclass
class View:
    rows: pd.DataFrame
    total: int
    page: int
    page_size: int
    pages: int
    sort: str
    descending: bool
    filters: dict
    choices: dict = field(default_factory=dict)
    all_rows: pd.DataFrame | None = None
    #: items whose customer carries an alarm come first (the agent's own list)
    alarms_first: bool = False

    def csv(self) -> str:
        """Every row of the view (not one page), as CSV."""
        return to_csv(self.all_rows if self.all_rows is not None else self.rows)


def to_csv(rows: pd.DataFrame) -> str:
    cols = [c for c in CSV_COLUMNS if c in rows.columns]
    buf = io.StringIO()
    rows[cols].to_csv(buf, index=False, date_format="%Y-%m-%d %H:%M")
    return buf.getvalue()


def _customers(store, ids: list) -> pd.DataFrame:
    c = store.table("customers")
    extra = [x for x in ("phone", "email") if x in c.columns]
    if not ids:
        return pd.DataFrame(columns=["customer_id", "name", "segment", *extra])
    return (c.filter(c.id.isin(ids)).select(customer_id=c.id, name=c.name, segment=c.segment,
                                            **{x: c[x] for x in extra})
            .distinct(on="customer_id", keep="first").to_pandas())


def _alarms(store) -> pd.DataFrame:
    """Per customer carrying an alarm-level alert (:mod:`loyalist.decisions.signals.alert_weights`:
    kinds at or above ``[alerts] min_ratio``): the latest one in words and how many."""
    empty = pd.DataFrame({"customer_id": pd.Series(dtype=object),
                          "alarm": pd.Series(dtype=object), "alarms": pd.Series(dtype="int64")})
    if "alerts" not in store.tables():
        return empty
    a = store.table("alerts")
    if "level" not in a.columns:
        return empty
    got = (a.filter(a.level == "alarm").select("customer_id", "kind", "text", "at")
           .to_pyarrow().to_pandas())
    if got.empty:
        return empty
    from loyalist.decisions.words import kind_words

    got = got.sort_values(["customer_id", "at", "kind"], ascending=[True, False, True],
                          na_position="last", kind="stable")
    first = got.drop_duplicates("customer_id")
    words = [f"{kind_words(k).capitalize()}: {t}" if t else kind_words(k).capitalize()
             for k, t in zip(first["kind"], first["text"], strict=True)]
    return pd.DataFrame({"customer_id": first["customer_id"].to_numpy(), "alarm": words,
                         "alarms": first["customer_id"].map(
                             got["customer_id"].value_counts()).to_numpy()})


def worklist_view(store, *, person: str | None = None, mine: bool = False,
                  owner: str | None = None, playbook: str | None = None,
                  segment: str | None = None, matter: str | None = None,
                  must_do: bool | None = None, overdue: bool = False,
                  due_before=None, snoozed: bool = False, sort: str = "priority",
                  descending: bool = False, page: int = 1, page_size: int = 25,
                  today=None, alarms_first: bool | None = None) -> View:
    """The open items that match, sorted and cut to one page.

    ``mine``: owned by ``person`` (a staff id); ``overdue``: due before ``today`` (the
    real date by default); ``snoozed``: the items snoozed beyond today instead of the
    awake ones. ``sort`` is one of :data:`SORTS` (ties keep priority order). Each row
    says whether its customer carries an alarm (``alarm``: the latest alarm-level alert
    in words, ``alarms``: how many); ``alarms_first`` (default: for ``mine``, in the
    priority order) puts those items first, each part in priority order.
    """
    if sort not in SORTS:
        raise DataError(f"Cannot sort by {sort!r}.", hint=f"Sort by one of: {', '.join(SORTS)}.")
    if not 1 <= int(page_size) <= MAX_PAGE_SIZE:
        raise DataError(f"A page holds 1 to {MAX_PAGE_SIZE} items; got {page_size}.",
                        hint="Give a page size such as 25, 50 or 100.")
    if int(page) < 1:
        raise DataError(f"Pages are numbered from 1; got {page}.", hint="Give page 1 or more.")
    if mine and not person:
        raise DataError("'Mine' needs to know who you are.",
                        hint="Your user is linked to no staff id; ask an admin to set it.")
    day = today_of(today)
    everything = open_items(store, today=day)
    everything = everything.merge(_customers(store, list(everything["customer_id"].unique())),
                                  on="customer_id", how="left")
    everything = everything.merge(_alarms(store), on="customer_id", how="left")
    names = people(store)
    everything["owner_name"] = everything["owner"].map(lambda o: names.get(o, o),
                                                       na_action="ignore")
    asleep = everything["status"] == "snoozed"
    items = everything[asleep] if snoozed else everything[~asleep]
    if mine:
        items = items[items["owner"] == person]
    elif owner:
        items = items[items["owner"] == owner]
    for col, value in (("playbook", playbook), ("segment", segment), ("matter", matter)):
        if value:
            items = items[items[col] == value]
    if must_do is not None:
        items = items[items["must_do"].astype(bool) == bool(must_do)]
    if overdue:
        items = items[items["overdue_days"] > 0]
    if due_before:
        due = pd.Timestamp(today_of(due_before))
        items = items[pd.to_datetime(items["due_at"]) < due]
    col = SORTS[sort]
    items = items.sort_values([col, "priority"], ascending=[not descending, True],
                              na_position="last", kind="stable")
    if alarms_first is None:
        alarms_first = bool(mine) and sort == "priority" and not descending
    if alarms_first:  # the agent's list leads with the customers who carry an alarm
        items = items.sort_values("alarm", key=lambda a: a.isna(), kind="stable")
    total = len(items)
    pages = max(1, math.ceil(total / page_size))
    page = min(int(page), pages)
    start = (page - 1) * page_size
    owners = sorted(everything["owner"].dropna().unique().tolist(),
                    key=lambda o: str(names.get(o, o)))
    choices = {"playbook": sorted(everything["playbook"].dropna().unique().tolist()),
               "owner": [{"id": o, "name": names.get(o, o)} for o in owners],
               "segment": sorted(everything["segment"].dropna().astype(str).unique().tolist()),
               "matter": sorted(everything["matter"].dropna().unique().tolist())}
    filters = {"mine": mine, "owner": owner or "", "playbook": playbook or "",
               "segment": segment or "", "matter": matter or "",
               "must_do": "" if must_do is None else ("true" if must_do else "false"),
               "overdue": overdue, "snoozed": snoozed,
               "due_before": "" if not due_before else str(due_before)}
    return View(items.iloc[start:start + page_size].reset_index(drop=True), total, page,
                int(page_size), pages, sort, bool(descending), filters, choices,
                all_rows=items.reset_index(drop=True), alarms_first=bool(alarms_first))
