"""Column mapping: which source column feeds which contract column."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from loyalist.contract.schema import Table
from loyalist.errors import MappingError


def normalize(name: str) -> str:
    """customer ID, Customer-Id and customer_id all normalize to ``customer_id``."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    s = re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()
    return s or "column"


#: names that exports commonly give a contract column (normalized): only ever suggested,
#: never mapped without the user's --map
LIKELY = {
    "id": ("invoice", "invoice_no", "invoice_id", "invoice_number", "order_no",
           "order_number", "order_ref", "document", "document_no", "receipt", "receipt_no"),
    "customer_id": ("customer", "customer_no", "customer_number", "cust_id", "client",
                    "client_id", "account", "account_id", "account_no", "requester",
                    "requester_id"),
    "ordered_at": ("invoice_date", "order_date", "date", "purchase_date", "created_at",
                   "created", "timestamp", "sale_date", "transaction_date"),
    "amount": ("total", "value", "revenue", "sales", "net", "net_amount", "line_total",
               "order_total", "gross", "sum"),
    "unit_price": ("price", "unit_cost", "price_each", "each", "item_price"),
    "quantity": ("qty", "units", "pieces", "count"),
    "product": ("stock_code", "sku", "item", "item_code", "product_id", "product_code",
                "article", "description"),
    "opened_at": ("created_at", "created", "date", "submitted_at", "received_at"),
    "first_response_at": ("first_reply_at", "first_replied_at", "first_responded_at",
                          "responded_at", "replied_at"),
    "resolved_at": ("solved_at", "closed_at", "completed_at"),
    "team": ("group", "queue", "department", "assignee_group"),
    "agent": ("assignee", "handled_by", "assigned_to"),
    "category": ("type", "topic", "reason", "ticket_type"),
    "channel": ("via", "source", "medium"),
    "subject": ("title", "summary"),
    "text": ("description", "body", "message"),
    "answered_at": ("submitted_at", "response_date", "responded_at", "date", "created_at"),
    "nps": ("nps_score", "score", "recommend", "likelihood_to_recommend"),
    "satisfaction": ("csat", "rating", "satisfaction_score"),
    "comment": ("feedback", "remarks", "verbatim", "text"),
    "plan": ("product", "tier", "package"),
    "mrr": ("monthly_revenue", "monthly_fee", "monthly_price", "monthly_amount"),
    "started_at": ("start", "start_date", "begin", "created_at"),
    "ended_at": ("end", "end_date", "cancelled_at", "cancellation_date", "churned_at"),
    "at": ("timestamp", "time", "date", "occurred_at", "created_at"),
    "type": ("event", "event_type", "event_name", "action"),
    "name": ("company", "company_name", "customer_name", "full_name", "account_name"),
    "segment": ("tier", "customer_type", "customer_segment"),
    "created_at": ("customer_since", "signup_date", "signed_up_at", "joined", "since"),
}
#: where a table's own id goes by its own names
LIKELY_ID = {
    "customers": ("customer_id", "customer", "customer_no", "customer_number", "client_id",
                  "account_id", "account_no"),
    "requests": ("ticket_id", "ticket", "ticket_no", "case_id", "case_number", "case_no"),
    "feedback": ("response_id", "survey_response_id", "answer_id"),
    "subscriptions": ("subscription_id", "contract_id", "contract_no"),
}


def likely_sources(targets, columns, own: dict[str, str] | None = None,
                   table: str | None = None) -> dict[str, str]:
    """Per contract column of ``targets``, a column of ``columns`` that exports commonly
    use for it (:data:`LIKELY`; a table's ``id`` by :data:`LIKELY_ID`), each column
    suggested once."""
    own = own or {}
    out, used = {}, set()
    for t in targets:
        names = LIKELY_ID.get(table, LIKELY[t]) if t == "id" else LIKELY.get(t, ())
        for c in columns:
            if c not in used and normalize(own.get(c, c)) in names:
                out[t] = c
                used.add(c)
                break
    return out


def likely_notes(contract: Table, taken, ignored) -> list[str]:
    """What to tell a user whose export left columns unmapped that look like contract
    columns, and whose orders get no amount at all."""
    names = set(contract.names)
    free = [t for t in contract.names if t not in taken]
    notes = [f"{s!r} looks like {contract.name}.{t}, which nothing feeds: --map {t}={s} "
             "to load it" for t, s in likely_sources(free, ignored,
                                                     table=contract.name).items()]
    if "amount" in names and "amount" not in taken and (
            "unit_price" not in names or "unit_price" not in taken):
        way = "amount (or unit_price with quantity)" if "unit_price" in names else "amount"
        notes.append(f"No column gives the {way}: the orders are stored without amounts, "
                     "so spend, value and revenue figures will be missing")
    return notes


def parse_mapping(mapping) -> dict[str, str]:
    """Accept a dict, ``"target=source,..."`` text, or the path of a TOML file.

    A TOML mapping file holds ``target = "source"`` pairs, optionally under a
    ``[columns]`` table.
    """
    if mapping is None:
        return {}
    if isinstance(mapping, dict):
        return {str(k): str(v) for k, v in mapping.items()}
    text = str(mapping)
    if text.endswith(".toml") or _is_file(text):
        path = Path(text)
        if not path.is_file():
            raise MappingError(f"Mapping file not found: {text!r}.",
                               hint="Give the path of a TOML file with target = \"source\" lines.")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise MappingError(f"Mapping file {text!r} is not valid TOML: {e}.",
                               hint='Write one line per column: customer_id = "CustID"') from None
        data = data.get("columns", data)
        return {str(k): str(v) for k, v in data.items() if not isinstance(v, dict)}
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise MappingError(
                f"Cannot read the mapping item {part!r}.",
                hint="Write --map target=SourceColumn,... e.g. --map customer_id=CustID")
        target, source = (s.strip() for s in part.split("=", 1))
        out[target] = source
    return out


def _is_file(text: str) -> bool:
    """Whether ``text`` names an existing file (a mapping may also be inline text)."""
    if len(text) >= 4096 or "\x00" in text or "=" in text and "," in text:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def resolve(contract: Table, columns: list[str], mapping: dict[str, str],
            own: dict[str, str] | None = None):
    """Return ({contract column: source column}, {attribute: source column}, ignored).

    ``own`` maps each column as read to the source's own name (the reader renames a
    name that repeats once spaces and case are set aside). Two source columns that would
    both feed one contract column are refused, not settled by their order, unless
    ``mapping`` says which."""
    unknown = [t for t in mapping if t not in contract.names and not contract.extra_attributes]
    if unknown:
        raise MappingError(
            f"--map names {', '.join(map(repr, unknown))}, not columns of {contract.name}.",
            hint=f"{contract.name} has: {', '.join(contract.names)}.")
    own = own or {}
    # a column named as the source itself writes it, where the reader renamed it
    # (``Total`` read as ``Total_1`` beside ``total``)
    by_own: dict[str, list[str]] = {}
    for c in columns:
        by_own.setdefault(own.get(c, c), []).append(c)
    mapping = {t: (by_own[s][0] if s not in columns and len(by_own.get(s, [])) == 1 else s)
               for t, s in mapping.items()}
    missing_src = [s for s in mapping.values() if s not in columns]
    if missing_src:
        raise MappingError(
            f"The file has no column {', '.join(map(repr, missing_src))}.",
            hint=f"Its columns are: {', '.join(columns)}." + _delimiter_hint(columns))
    chosen: dict[str, str] = {t: s for t, s in mapping.items() if t in contract.names}
    used = set(mapping.values())
    by_norm: dict[str, str] = {}
    same: dict[str, list[str]] = {}
    for c in columns:
        key = normalize(own.get(c, c))
        by_norm.setdefault(key, c)
        same.setdefault(key, []).append(c)
    for name in contract.names:
        if name not in chosen and len(same.get(name, [])) > 1:
            found = same[name]
            listed = ", ".join(f"{own.get(c, c)!r} (column {columns.index(c) + 1}"
                               + (f", read as {c!r})" if own.get(c, c) != c else ")")
                               for c in found)
            raise MappingError(
                f"{len(found)} columns of the file could be {contract.name}.{name}: "
                f"{listed}; which one is meant is unclear.",
                hint=f"Say which with --map {name}=<column> (e.g. --map {name}={found[0]}), "
                "or rename the other in the file.")
    for name in contract.names:
        if name not in chosen and name in by_norm and by_norm[name] not in used:
            chosen[name] = by_norm[name]
            used.add(by_norm[name])
    missing = [c for c in contract.required if c not in chosen]
    if missing:
        guess = likely_sources(missing, [c for c in columns if c not in used], own,
                               contract.name)
        # the optional columns the export's names suggest too, so one command loads all
        guess |= likely_sources([t for t in contract.names if t not in chosen
                                 and t not in missing], [c for c in columns if c not in used
                                                         and c not in guess.values()], own,
                                contract.name)
        guess = {t: own.get(c, c) for t, c in guess.items()}  # as the header writes it
        example = ",".join(f"{m}={guess.get(m, '<column>')}" for m in missing) + "".join(
            f",{t}={c}" for t, c in guess.items() if t not in missing)
        quote = '"' if any(" " in c for c in guess.values()) else ""
        err = MappingError(
            f"{contract.name} needs column(s) {', '.join(missing)}, and the file has none "
            f"of that name.",
            hint=f"Map them with --map {quote}{example}{quote}. The file's columns are: "
            f"{', '.join(columns)}." + _delimiter_hint(columns))
        # the mapping as a setting takes it too ([daily] inbox_options)
        err.suggested = example if all(m in guess for m in missing) else None
        raise err
    attributes: dict[str, str] = {}
    ignored = []
    for c in columns:
        if c in used:
            continue
        if contract.extra_attributes:
            attributes.setdefault(normalize(c), c)
        else:
            ignored.append(c)
    for t, s in mapping.items():
        if t not in contract.names:
            attributes[normalize(t)] = s
    return chosen, attributes, ignored


def _delimiter_hint(columns: list[str]) -> str:
    if len(columns) == 1:
        name = columns[0]
        for d, label in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", "','")):
            if d in name:
                return (f" The file was read as one column; it seems to be separated by {label}: "
                        f"pass --delimiter {label}.")
        return " The file was read as one column: check --delimiter and --encoding."
    return ""
