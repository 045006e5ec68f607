"""The daily run: ``[daily]`` in ``loyalist.toml``.

Where new exports arrive (the inbox folder) and how each file's table is known, who
gets the digest and how (e-mail over SMTP, a webhook into Slack or Teams, or both), and
when the model's health raises an alert to the admins. ``loyalist daily`` and
:func:`loyalist.daily.run_day` read them from the store's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalist.settings._declare import at_least, one_of, positive, setting


def _address(v) -> str | None:
    return None if "@" in v and " " not in v.strip() else "an e-mail address (name@firm.com)"


def _addresses(v) -> str | None:
    for a in v:
        if _address(a):
            return "a list of e-mail addresses"
    return None


def _owner_addresses(v) -> str | None:
    for a in v.values():
        if _address(a):
            return "a table whose values are each an e-mail address"
    return None


def _url(v) -> str | None:
    return None if v.startswith(("http://", "https://")) else "an http:// or https:// address"


#: the ingest options a file pattern of the inbox may carry, and the type of each
INBOX_OPTIONS = {"map": str, "lines": bool, "return_prefix": str, "date_format": (str, list),
                 "decimal": str, "delimiter": str, "encoding": str, "sheet": (str, int)}


def _inbox_options(v) -> str | None:
    for pattern, opts in v.items():
        if not isinstance(opts, dict):
            return (f"a table of file patterns, each a table of ingest options (not "
                    f"{pattern!r} = {opts!r})")
        for key, value in opts.items():
            if key not in INBOX_OPTIONS:
                return (f"a table of file patterns whose options are among "
                        f"{', '.join(INBOX_OPTIONS)} (not {key!r} under {pattern!r})")
            if not isinstance(value, INBOX_OPTIONS[key]) or (
                    isinstance(value, bool) and INBOX_OPTIONS[key] is not bool):
                return f"a table of file patterns whose {key} is of the right type"
    return None


def _gap(v) -> str | None:
    return None if 0 < v <= 1 else "a share between 0 and 1 (e.g. 0.05)"


def _auc(v) -> str | None:
    return None if 0 < v <= 1 else "a ROC AUC between 0 and 1 (e.g. 0.65)"


@dataclass(frozen=True)
class DailySettings:
    """The ``[daily]`` settings of ``loyalist daily``: the inbox, the digest's recipients
    and delivery, and the model-health thresholds."""

    inbox: str | None = setting(
        None, "Folder where new exports arrive (relative to the folder of loyalist.toml). "
        "Each new file is ingested once (its content hash is remembered); its table is "
        "read from the start of its name (orders-2026-05-01.csv: orders) unless "
        "inbox_tables maps it.", example='inbox = "inbox"')
    inbox_tables: dict[str, str] = setting(
        {}, "File-name patterns (glob) and the table each file matching them goes to, "
        "tried before the names.", example='inbox_tables = { "ERP_*.csv" = "orders" }')
    inbox_options: dict[str, Any] = setting(
        {}, "File-name patterns (glob) and how files matching them are read, as loyalist "
        "ingest's options: map (target=Source,...), lines and return_prefix (order lines), "
        "date_format, decimal, delimiter, encoding, sheet.", check=_inbox_options,
        example='[daily.inbox_options."ERP_*.csv"] then map = "id=Invoice,ordered_at='
        'InvoiceDate,unit_price=Price", lines = true, return_prefix = "C"')
    out: str = setting(
        "loyalist-out/daily", "Folder of each day's report and a copy of every message "
        "(relative to the folder of loyalist.toml).")
    owners: dict[str, str] = setting(
        {}, "Item owner (staff id or team) and the address of their list; default: "
        "the staff table's email column.", check=_owner_addresses,
        example='owners = { "S001" = "ana@firm.com", "Billing" = "billing@firm.com" }')
    lead: str | None = setting(
        None, "The retention lead's address: the day's summary.", check=_address,
        example='lead = "lead@firm.com"')
    admins: list[str] = setting(
        [], "Who hears model-health alerts (default: the lead).", check=_addresses,
        example='admins = ["it@firm.com"]')
    sender: str = setting("loyalist@localhost", "The From address of the e-mails.",
                          check=_address)
    max_items: int = setting(25, "Items listed in an owner's message (the rest are "
                             "counted).", check=at_least(1))
    smtp_host: str | None = setting(
        None, "SMTP server; set, the digest goes out by e-mail.",
        example='smtp_host = "smtp.firm.com"')
    smtp_port: int = setting(587, "SMTP port.", check=at_least(1))
    smtp_user: str | None = setting(None, "SMTP user name (none: no sign-in).",
                                    example='smtp_user = "loyalist"')
    smtp_password_env: str = setting(
        "LOYALIST_SMTP_PASSWORD", "Environment variable holding the SMTP password (never "
        "written in the file).")
    smtp_starttls: bool = setting(True, "Switch the SMTP connection to TLS (STARTTLS) "
                                  "before signing in.")
    webhook_url: str | None = setting(
        None, "Incoming-webhook address; set, every message is also posted there.",
        check=_url, example='webhook_url = "https://hooks.slack.com/services/T0/B0/XX"')
    webhook_kind: str = setting(
        "slack", "The webhook's format: slack, teams or generic (JSON with kind, to, "
        "subject, text).", check=one_of("slack", "teams", "generic"))
    timeout_seconds: float = setting(20.0, "How long to wait for the SMTP server or the "
                                     "webhook.", check=positive, unit="seconds")
    min_auc: float = setting(
        0.6, "Model health: ROC AUC on the newest settled period below which admins are "
        "alerted.", check=_auc)
    auc_drop: float = setting(
        0.05, "Model health: alert when the ROC AUC falls this far below the model's own "
        "held-out ROC AUC at fitting.", check=_gap)
    max_calibration_gap: float = setting(
        0.05, "Model health: alert when the expected calibration error (mean gap between "
        "predicted and observed share leaving, by decile) exceeds this.", check=_gap,
        unit="share of customers")

    def folder(self, key: str, settings_file: str | None, store_path: str | None = None
               ) -> Path | None:
        """``inbox`` or ``out`` as a path: relative to the folder of loyalist.toml (else
        of the store, else the working folder)."""
        value = getattr(self, key)
        if not value:
            return None
        p = Path(value)
        if p.is_absolute():
            return p
        base = (Path(settings_file).parent if settings_file
                else Path(store_path).parent if store_path and store_path != ":memory:"
                else Path.cwd())
        return base / p


__all__ = ["DailySettings"]
