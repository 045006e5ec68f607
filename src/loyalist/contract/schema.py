"""The data contract: the tables a business can provide, and their columns.

This module is the single source of truth. ``docs/data-contract.md`` is generated
from it (``python -m loyalist.contract.docs``) and checked in CI, so the document
cannot drift from the code. The store creates its tables from it and ingestion
validates every row against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loyalist.errors import UnknownTableError

# Logical types and the DuckDB type each is stored as.
STORAGE_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float": "DOUBLE",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "blob": "BLOB",
}
#: how a boolean may be written (any case); anything else is rejected
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a key of STORAGE_TYPES
    description: str
    required: bool = False
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    #: (other column, reason) pairs: this timestamp must not precede the other one
    not_before: tuple[str, ...] = ()

    @property
    def storage_type(self) -> str:
        return STORAGE_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    #: columns that identify a row when the source has no ``id``
    natural_key: tuple[str, ...]
    #: rows are never updated once stored (outreach log)
    append_only: bool = False
    #: unknown source columns become typed attribute columns (customers only)
    extra_attributes: bool = False
    #: column holding the row's main date, for ``status`` date ranges
    date_column: str | None = None
    #: when the source has any of these columns, each row must fill at least one
    require_one_of: tuple[str, ...] = ()
    examples: tuple[str, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def has_id(self) -> bool:
        return "id" in self.names


def _id(what: str) -> Column:
    return Column("id", "string", f"The {what}'s identifier in the source system. "
                  "Optional: rows without it are identified by a hash of their content.")


def _customer_id() -> Column:
    return Column("customer_id", "string", "Identifier of the customer (matches `customers.id`).",
                  required=True)


CUSTOMERS = Table(
    "customers",
    "One row per customer. Any further column of the source (plan, contract type, region...) "
    "is kept as a typed attribute column of its own.",
    (
        Column("id", "string", "The customer's identifier in the source system.", required=True),
        Column("name", "string", "Display name (person or company)."),
        Column("segment", "string", "Segment or tier the business uses (e.g. SMB, enterprise)."),
        Column("created_at", "timestamp", "When the customer relationship started."),
        Column("owner", "string", "Account manager responsible for the customer: their "
               "`staff.id` (or, without a staff table, a name used as their id)."),
        Column("do_not_contact", "boolean", "The customer asked not to be contacted: no "
               "outreach on the worklist (only answers to their own requests and orders), "
               "left out of exports for dialers and of every message. Written true/false, "
               "yes/no, y/n or 1/0."),
    ),
    natural_key=("id",),
    extra_attributes=True,
    date_column="created_at",
)

STAFF = Table(
    "staff",
    "The firm's people: account managers, service agents, managers. Each is one identity: "
    "`customers.owner`, `requests.agent`, `touches.by` and the owner of a worklist item "
    "name a person by `id`, and a web account is linked to one (`loyalist user add NAME "
    "--person ID`).",
    (
        Column("id", "string", "The person's identifier (employee number, login...).",
               required=True),
        Column("name", "string", "Display name."),
        Column("team", "string", "Team or department."),
        Column("email", "string", "E-mail address (for the daily list)."),
        Column("active", "boolean", "Still working here; empty means yes."),
    ),
    natural_key=("id",),
)

ORDERS = Table(
    "orders",
    "Purchases. Lifecycle timestamps are optional; when present they feed the "
    "order follow-through checks.",
    (
        _id("order"),
        _customer_id(),
        Column("ordered_at", "timestamp", "When the order was placed.", required=True),
        Column("amount", "float", "Order value in the business's currency, before refunds. "
               "Record returns with status `returned`, not a negative amount.",
               unit="currency", min=0),
        Column("quantity", "integer", "Number of items.", unit="items", min=0),
        Column("status", "string", "Free status, e.g. placed, fulfilled, cancelled, returned."),
        Column("acknowledged_at", "timestamp", "When the business confirmed the order.",
               not_before=("ordered_at",)),
        Column("promised_at", "timestamp", "Delivery date promised to the customer.",
               not_before=("ordered_at",)),
        Column("fulfilled_at", "timestamp", "When the order was delivered or completed.",
               not_before=("ordered_at",)),
        Column("followed_up_at", "timestamp", "When someone checked back with the customer "
               "after fulfilment.", not_before=("ordered_at",)),
    ),
    natural_key=("customer_id", "ordered_at", "amount", "quantity"),
    date_column="ordered_at",
)

ORDER_LINES = Table(
    "order_lines",
    "One row per line of an order: what was bought, how many, at what price. Written by "
    "`loyalist ingest orders FILE --lines`, which also writes each order's total to "
    "`orders`. A return or cancellation (a negative quantity, or a document id starting "
    "with the return prefix) is a line with status `returned` and positive quantity and "
    "amount, never a negative amount, linked to the order it returns. A fully refunded "
    "order is not a purchase for the value models; a partial return reduces its spend.",
    (
        Column("order_id", "string", "The order the line belongs to (`orders.id`). For a "
               "return: the order it returns (the customer's latest earlier order of that "
               "product), or the return's own document when that order is not in the data.",
               required=True),
        Column("line", "integer", "Line number within its document (the order of the "
               "lines in the export unless mapped).", required=True, min=1),
        Column("document", "string", "Id of the document the line came from: the order's "
               "own id, or the return's (e.g. C536379)."),
        _customer_id(),
        Column("at", "timestamp", "When the line was ordered (for a return: returned).",
               required=True),
        Column("product", "string", "Product code or name."),
        Column("quantity", "float", "Items on the line (positive also for a return).",
               unit="items", min=0),
        Column("unit_price", "float", "Price of one item.", unit="currency", min=0),
        Column("amount", "float", "Value of the line (quantity times unit price unless the "
               "export says otherwise; positive also for a return).", unit="currency",
               min=0),
        Column("status", "string", "Empty for a sale; `returned` for a returned or "
               "cancelled line."),
    ),
    natural_key=("order_id", "document", "line", "status"),
    date_column="at",
)

SUBSCRIPTIONS = Table(
    "subscriptions",
    "Contracts with a start and (once ended) an end.",
    (
        _id("subscription"),
        _customer_id(),
        Column("plan", "string", "Plan or product name."),
        Column("started_at", "timestamp", "Start of the subscription.", required=True),
        Column("ended_at", "timestamp", "End (cancellation or expiry); empty while active.",
               not_before=("started_at",)),
        Column("mrr", "float", "Recurring revenue per month.", unit="currency per month", min=0),
    ),
    natural_key=("customer_id", "plan", "started_at"),
    date_column="started_at",
)

REQUESTS = Table(
    "requests",
    "Service contacts: calls, emails, tickets, chats.",
    (
        _id("request"),
        _customer_id(),
        Column("opened_at", "timestamp", "When the customer made contact.", required=True),
        Column("channel", "string", "phone, email, chat, web, visit..."),
        Column("subject", "string", "Subject line or short summary."),
        Column("text", "string", "What the customer wrote or said."),
        Column("category", "string", "What the request is about (invoice, delivery, ...)."),
        Column("team", "string", "Team the request was routed to."),
        Column("agent", "string", "Person who handled it: their `staff.id` (or a name)."),
        Column("first_response_at", "timestamp", "First answer from the business.",
               not_before=("opened_at",)),
        Column("resolved_at", "timestamp", "When the matter was resolved.",
               not_before=("opened_at",)),
        Column("parent_id", "string", "Id of an earlier request this one refers to, if the "
               "source system records it."),
    ),
    natural_key=("customer_id", "opened_at", "channel", "subject", "text"),
    date_column="opened_at",
    require_one_of=("subject", "text"),
)

FEEDBACK = Table(
    "feedback",
    "Survey answers: NPS and the relationship items.",
    (
        _id("answer"),
        _customer_id(),
        Column("answered_at", "timestamp", "When the survey was answered.", required=True),
        Column("nps", "integer", "Likelihood to recommend.", unit="0-10", min=0, max=10),
        Column("satisfaction", "integer", "Satisfaction item.", unit="Likert 1-5", min=1, max=5),
        Column("trust", "integer", "Trust item.", unit="Likert 1-5", min=1, max=5),
        Column("commitment", "integer", "Commitment item.", unit="Likert 1-5", min=1, max=5),
        Column("comment", "string", "Free-text comment."),
        Column("request_id", "string", "Id of the service request (`requests.id`) this "
               "answer rates, if it follows one: its satisfaction is credited to the agent "
               "who handled that request (`loyalist team`); answers without one are "
               "credited to no agent."),
    ),
    natural_key=("customer_id", "answered_at"),
    date_column="answered_at",
)

SURVEY_ANSWERS = Table(
    "survey_answers",
    "Multi-item survey answers in long form: one row per item answered. Which items a "
    "survey has, what each measures and its scale come from the survey definition "
    "(docs/relationship.md); `loyalist relationship` and `loyalist ingest survey_answers` "
    "quarantine answers outside an item's scale and items the definition does not know.",
    (
        _id("answer"),
        _customer_id(),
        Column("answered_at", "timestamp", "When the survey was answered.", required=True),
        Column("survey", "string", "Name of the survey definition (e.g. `relationship`).",
               required=True),
        Column("item", "string", "Code of the item answered, as in the survey definition.",
               required=True),
        Column("value", "float", "The answer on the item's scale (e.g. 1-7, NPS 0-10)."),
        Column("text", "string", "The answer to an open question."),
        Column("respondent", "string", "Who answered when a business customer has several "
               "contacts (a name or a role such as buyer, user, finance); empty for one."),
    ),
    natural_key=("customer_id", "answered_at", "survey", "item", "respondent"),
    date_column="answered_at",
    require_one_of=("value", "text"),
)

EVENTS = Table(
    "events",
    "Product usage or any other behaviour worth counting.",
    (
        _customer_id(),
        Column("at", "timestamp", "When it happened.", required=True),
        Column("type", "string", "Kind of event (login, page_view, download...).", required=True),
        Column("value", "float", "Optional amount attached to the event (duration, count...)."),
    ),
    natural_key=("customer_id", "at", "type", "value"),
    date_column="at",
)

TOUCHES = Table(
    "touches",
    "Outreach to a customer and its outcome. Append-only: history is never rewritten.",
    (
        _id("touch"),
        _customer_id(),
        Column("at", "timestamp", "When the contact happened.", required=True),
        Column("kind", "string", "call, email, visit, letter...", required=True),
        Column("by", "string", "Who made the contact: their `staff.id` (or a name)."),
        Column("outcome", "string", "reached, no-answer, saved, lost, escalated..."),
        Column("note", "string", "What was said or agreed."),
        Column("item_id", "string", "The worklist item the contact answered, if any "
               "(`loyalist log --item`)."),
        Column("playbook", "string", "The playbook the contact followed, if any (set by "
               "`loyalist log` from the item)."),
        Column("request_id", "string", "The request (`requests.id`) the contact was about, "
               "if any: an update to the customer on that matter (set by `loyalist log` "
               "from the item, or `--request`)."),
        Column("order_id", "string", "The order (`orders.id`) the contact was about, if "
               "any: an update to the customer on that order (set by `loyalist log` from "
               "the item, or `--order`)."),
    ),
    natural_key=("customer_id", "at", "kind", "by", "outcome", "note"),
    append_only=True,
    date_column="at",
)

TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, STAFF, ORDERS, ORDER_LINES, SUBSCRIPTIONS, REQUESTS, FEEDBACK,
                        SURVEY_ANSWERS, EVENTS, TOUCHES)
}


def get_table(name: str) -> Table:
    """Return the contract of table ``name`` or raise :class:`UnknownTableError`."""
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(
            f"Unknown table {name!r}.",
            hint=f"Use one of: {', '.join(TABLES)}.",
        ) from None
