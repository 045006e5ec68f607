"""Delivering the digest: e-mail over SMTP (with STARTTLS) and incoming webhooks
(Slack, Microsoft Teams, or plain JSON).

Every failure is a :class:`~loyalist.errors.DeliveryError` that says what was refused
or unreachable and what to check, never a traceback. The webhook's address is never
printed whole (it carries its secret): only its host.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from loyalist.errors import DeliveryError


@dataclass(frozen=True)
class Message:
    """One message of the digest."""

    #: owner (an owner's list), lead (the summary) or admin (a model-health alert)
    kind: str
    #: the owner's staff id or team, "lead" or "admin"
    recipient: str
    subject: str
    text: str
    #: e-mail addresses (none: the webhook only)
    to: tuple[str, ...] = ()


def _smtp_hint(cfg) -> str:
    return (f"Check [daily] smtp_host ({cfg.smtp_host}) and smtp_port ({cfg.smtp_port}) in "
            "loyalist.toml, and that the server is up and reachable from this machine.")


def send_email(cfg, msg: Message) -> None:
    """Send ``msg`` to ``msg.to`` through the SMTP server of ``cfg`` (the ``[daily]``
    settings): STARTTLS when ``smtp_starttls``, signed in when ``smtp_user`` is set
    (the password from the environment variable ``smtp_password_env``)."""
    if not cfg.smtp_host:
        raise DeliveryError("No SMTP server set.", hint="Set [daily] smtp_host in "
                            "loyalist.toml (and smtp_port, smtp_user).")
    password = None
    if cfg.smtp_user:
        password = os.environ.get(cfg.smtp_password_env)
        if not password:
            raise DeliveryError(f"SMTP user {cfg.smtp_user!r} is set but the environment "
                                f"variable {cfg.smtp_password_env} holding the password "
                                "is empty.", hint=f"export {cfg.smtp_password_env}=... in "
                                "the job that runs loyalist daily (its crontab line).")
    mail = EmailMessage()
    mail["From"] = cfg.sender
    mail["To"] = ", ".join(msg.to)
    mail["Subject"] = msg.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=cfg.sender.split("@")[-1] or "localhost")
    mail.set_content(msg.text)
    where = f"{cfg.smtp_host}:{cfg.smtp_port}"
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port,
                          timeout=cfg.timeout_seconds) as smtp:
            smtp.ehlo()
            if cfg.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, password)
            smtp.send_message(mail)
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(f"The SMTP server {where} does not offer STARTTLS.",
                            hint="Use the server's TLS port, or set [daily] smtp_starttls "
                            "= false only for a server on this machine or a trusted "
                            "network.") from None
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryError(f"The SMTP server {where} refused the sign-in of "
                            f"{cfg.smtp_user!r} ({e.smtp_code}).",
                            hint=f"Check [daily] smtp_user and the password in "
                            f"{cfg.smtp_password_env}.") from None
    except smtplib.SMTPRecipientsRefused as e:
        refused = ", ".join(sorted(e.recipients))
        raise DeliveryError(f"The SMTP server {where} refused the address(es) {refused}.",
                            hint="Check [daily] owners and lead, or the staff table's "
                            "email column.") from None
    except smtplib.SMTPSenderRefused:
        raise DeliveryError(f"The SMTP server {where} refused the sender {cfg.sender}.",
                            hint="Set [daily] sender to an address the server accepts "
                            "mail from.") from None
    except smtplib.SMTPException as e:
        raise DeliveryError(f"The SMTP server {where} failed: {str(e).splitlines()[0]}.",
                            hint=_smtp_hint(cfg)) from None
    except ssl.SSLError as e:
        raise DeliveryError(f"TLS with the SMTP server {where} failed: {e.reason or e}.",
                            hint="Check that the server's certificate is valid for "
                            f"{cfg.smtp_host}.") from None
    except OSError as e:
        raise DeliveryError(f"Cannot reach the SMTP server {where}: "
                            f"{e.strerror or e.__class__.__name__}.",
                            hint=_smtp_hint(cfg)) from None


def webhook_payload(kind: str, msg: Message) -> dict:
    """The JSON body for a webhook of ``kind`` (slack, teams or generic)."""
    if kind == "slack":  # mrkdwn: &, < and > are control characters
        def esc(t: str) -> str:
            return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        return {"text": f"*{esc(msg.subject)}*\n{esc(msg.text)}"}
    if kind == "teams":  # a Workflows webhook: an Adaptive Card, one text block a line
        lines = [{"type": "TextBlock", "text": line or " ", "wrap": True, "spacing": "None"}
                 for line in msg.text.splitlines()]
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4",
                "body": [{"type": "TextBlock", "text": msg.subject, "weight": "Bolder",
                          "size": "Medium", "wrap": True}, *lines]}
        return {"type": "message", "summary": msg.subject, "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}
    return {"kind": msg.kind, "to": msg.recipient, "addresses": list(msg.to),
            "subject": msg.subject, "text": msg.text}


def webhook_host(url: str) -> str:
    return urlsplit(url).netloc or "the webhook"


def post_webhook(cfg, msg: Message) -> None:
    """POST ``msg`` as JSON to ``cfg.webhook_url`` in the format of ``webhook_kind``."""
    import httpx

    if not cfg.webhook_url:
        raise DeliveryError("No webhook set.", hint="Set [daily] webhook_url in "
                            "loyalist.toml.")
    host = webhook_host(cfg.webhook_url)
    try:
        r = httpx.post(cfg.webhook_url, json=webhook_payload(cfg.webhook_kind, msg),
                       timeout=cfg.timeout_seconds)
    except httpx.HTTPError as e:
        raise DeliveryError(f"Cannot reach the webhook at {host}: {e.__class__.__name__}"
                            f"{': ' + str(e).splitlines()[0] if str(e) else ''}.",
                            hint="Check [daily] webhook_url and that this machine can "
                            "reach it.") from None
    if r.status_code >= 300:
        body = " ".join(r.text.split())[:160]
        raise DeliveryError(f"The webhook at {host} answered {r.status_code}"
                            + (f": {body}" if body else "") + ".",
                            hint="Check [daily] webhook_url (a revoked or mistyped hook "
                            "answers 403 or 404) and webhook_kind (slack, teams or "
                            "generic).")


__all__ = ["Message", "post_webhook", "send_email", "webhook_host", "webhook_payload"]
