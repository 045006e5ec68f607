"""Accounts of the web app and the API, kept in the store: users and roles, API tokens,
sessions, the back-off after failed sign-ins, idempotency keys, and the audit log of
every write. The command line uses them too (``loyalist user``, ``loyalist token``).

Secrets are never stored in clear: passwords are argon2 hashes (argon2-cffi), API
tokens and session ids are random 32-byte values stored as their SHA-256 digest (the
token is shown once, when it is made). Roles are ordered: viewer < agent < lead < admin
(:data:`ROLE_WORDS`); a role may do everything the roles before it may.

>>> import loyalist
>>> from loyalist.store.accounts import Accounts
>>> accounts = Accounts(loyalist.connect(":memory:"))
>>> accounts.add_user("ada", "correct horse battery", role="admin").role
'admin'
>>> token = accounts.create_token("ada")
>>> accounts.user_for_token(token).name
'ada'
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from loyalist.errors import AuthError, DataError, ForbiddenError, ThrottledError
from loyalist.store.engine import (
    delete_rows,
    insert_row,
    next_numbers,
    select_rows,
    update_rows,
    upsert_row,
)

ROLES = ("viewer", "agent", "lead", "admin")
#: what each role may do (each may also do everything the roles before it may)
ROLE_WORDS = {
    "viewer": "reads every page and figure",
    "agent": "works the worklist: logs outcomes, hands over their own items, takes a "
             "team's items, snoozes their own",
    "lead": "the retention lead: assigns and snoozes any item, raises the worklist's caps; "
            "not users, data or settings files",
    "admin": "everything: users, ingest, backups, erasure, the daily run",
}
USERS = "_loyalist_users"
TOKENS = "_loyalist_tokens"
SESSIONS = "_loyalist_sessions"
AUDIT = "_loyalist_audit"
FAILURES = "_loyalist_signin_failures"
IDEMPOTENCY = "_loyalist_idempotency"
#: the account name under which failed API tokens are counted (per address)
TOKEN_ACCOUNT = "(api token)"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
#: shortest password accepted
MIN_PASSWORD = 8
SESSION_HOURS = 12

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Backoff:
    """Sign-in back-off per (account, address): failures before the first wait, the
    first wait in seconds, doubled by each further failure up to ``max_seconds``."""

    free_failures: int = 4
    first_seconds: float = 30.0
    max_seconds: float = 900.0

    def wait(self, failures: int) -> float:
        """Seconds locked after ``failures`` consecutive failures (0 while free)."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return min(self.max_seconds, self.first_seconds * 2 ** min(over - 1, 30))


@dataclass(frozen=True)
class User:
    """A signed-in user: their name, role, and the person they are (a ``staff.id``, the
    one identity that owns worklist items and handles requests; default the name)."""

    name: str
    role: str
    person_id: str | None = None

    @property
    def person(self) -> str:
        return self.person_id or self.name

    def can(self, role: str) -> bool:
        """Whether this user's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _user(row: dict) -> dict:
    return {"name": row["name"], "role": row["role"], "person_id": row["person"]}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def digest(secret: str) -> str:
    """SHA-256 of a token or session id: what the store keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise DataError(f"Unknown role {role!r}.", hint=f"Use one of: {', '.join(ROLES)}.")
    return role


class Accounts:
    """Users, tokens, sessions and the audit log of one store.

    Every method opens its own cursor, so threads of the web server may call it at once.
    """

    def __init__(self, store, *, backoff: Backoff | None = None):
        self.store = store
        self.backoff = backoff or Backoff()

    def _one(self, table: str, columns: list[str], where: dict) -> dict | None:
        rows = select_rows(self.store, table, columns, where, limit=1)
        return rows[0] if rows else None

    # -- users -------------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, role: str = "viewer",
                 person: str | None = None) -> User:
        """Create a user; the password is stored as an argon2 hash. ``person`` is the
        ``staff.id`` of the person (default: the user name)."""
        if not _NAME_RE.match(name or ""):
            raise DataError(f"Cannot use {name!r} as a user name.",
                            hint="Use letters, digits and . _ @ - (up to 64 characters).")
        check_role(role)
        if len(password or "") < MIN_PASSWORD:
            raise DataError(f"The password is too short ({len(password or '')} characters).",
                            hint=f"Use at least {MIN_PASSWORD} characters.")
        if self._one(USERS, ["name"], {"name": name}):
            raise DataError(f"User {name!r} exists already.",
                            hint="Pick another name, or see them with `loyalist user list`.")
        if person is not None and not str(person).strip():
            raise DataError("The person's id is empty.",
                            hint="Give their staff id (loyalist status shows the staff table).")
        insert_row(self.store, USERS, {"name": name, "role": role,
                                       "password_hash": _hasher.hash(password),
                                       "created_at": _now(), "disabled": False,
                                       "person": person})
        return User(name, role, person)

    def link_person(self, name: str, person: str) -> User:
        """Say which person (``staff.id``) a user is."""
        if not self._one(USERS, ["name"], {"name": name}):
            raise DataError(f"No user {name!r}.", hint="See them with `loyalist user list`.")
        update_rows(self.store, USERS, {"person": person}, {"name": name})
        return self.user(name)

    def users(self) -> pd.DataFrame:
        """Every user with role and creation time (no hashes)."""
        cols = ["name", "role", "person", "created_at", "disabled"]
        df = pd.DataFrame(select_rows(self.store, USERS, cols, order_by=["name"]),
                          columns=cols)
        df["person"] = df["person"].fillna(df["name"])
        return df

    def user(self, name: str) -> User | None:
        row = self._one(USERS, ["name", "role", "person"], {"name": name, "disabled": False})
        return User(**_user(row)) if row else None

    def disable_user(self, name: str) -> None:
        """Stop a user from signing in; ends their sessions and revokes their tokens."""
        if not self._one(USERS, ["name"], {"name": name}):
            raise DataError(f"No user {name!r}.", hint="See them with `loyalist user list`.")
        update_rows(self.store, USERS, {"disabled": True}, {"name": name})
        delete_rows(self.store, SESSIONS, {"user_name": name})
        update_rows(self.store, TOKENS, {"revoked_at": _now()},
                    {"user_name": name, "revoked_at": None})

    def has_admin(self) -> bool:
        return self._one(USERS, ["name"], {"role": "admin", "disabled": False}) is not None

    def authenticate(self, name: str, password: str) -> User:
        """The user whose name and password these are; :class:`AuthError` otherwise."""
        row = self._one(USERS, ["role", "password_hash", "person"],
                        {"name": name, "disabled": False})
        bad = AuthError("Wrong user name or password.",
                        hint="Check both; an admin can add users with `loyalist user add`.")
        if not row:
            _hasher.hash(password or "-")  # same work either way: no timing hint
            raise bad
        role, stored, person = row["role"], row["password_hash"], row["person"]
        try:
            _hasher.verify(stored, password or "")
        except (VerificationError, InvalidHashError):
            raise bad from None
        return User(name, role, person)

    def sign_in(self, name: str, password: str, address: str | None) -> User:
        """:meth:`authenticate` with the back-off: while (name, address) is locked the
        password is not even checked (:class:`ThrottledError`); each failure is counted
        and audited; a success clears the count of that address only."""
        address = address or "unknown"
        self.check_locked(name, address)
        try:
            user = self.authenticate(name, password)
        except AuthError:
            self.failed(name, address)
            raise
        self.clear_failures(name, address)
        return user

    def check_locked(self, account: str, address: str) -> None:
        row = self._one(FAILURES, ["locked_until"], {"account": account, "address": address,
                                                     "locked_until": (">", _now())})
        if row:
            wait = max(1, int((row["locked_until"] - _now()).total_seconds() + 0.999))
            self.audit(None, "signin.throttled", account, {"retry_after": wait}, ip=address)
            raise ThrottledError(
                f"Too many failed sign-ins for {account!r} from this address.",
                retry_after=wait, hint=f"Wait {wait} s and try again, or ask an admin to lift "
                "the lock (loyalist user unlock NAME).")

    def failed(self, account: str, address: str) -> int:
        """Count one failure of (account, address); returns the consecutive count."""
        now = _now()
        key = {"account": account, "address": address}
        # counted in one statement: failures sent at once are each counted
        n = upsert_row(self.store, FAILURES, {**key, "failures": 1, "first_at": now,
                                              "last_at": now, "locked_until": None},
                       key=list(key), keep=("first_at", "locked_until"),
                       add=("failures",))["failures"]
        wait = self.backoff.wait(n)
        if wait:
            update_rows(self.store, FAILURES,
                        {"locked_until": now + timedelta(seconds=wait)}, key)
        self.audit(None, "signin.failed", account, {"failures": n, "locked_seconds": wait},
                   ip=address)
        return n

    def clear_failures(self, account: str, address: str | None = None) -> int:
        """Forget the failures of ``account`` (from one address, or all of them);
        returns how many (account, address) records were cleared."""
        where = {"account": account} if address is None else {"account": account,
                                                              "address": address}
        return delete_rows(self.store, FAILURES, where)

    def unlock(self, name: str, by: User | str | None = None) -> int:
        """Lift every sign-in lock of ``name`` (an admin's action, audited)."""
        n = self.clear_failures(name)
        self.audit(by, "signin.unlock", name, {"records": n})
        return n

    def failures(self) -> pd.DataFrame:
        """Sign-in failures still counted, locked ones first (the admin view's alert)."""
        cols = ["account", "address", "failures", "first_at", "last_at", "locked_until"]
        df = pd.DataFrame(select_rows(self.store, FAILURES, cols), columns=cols)
        now = _now()
        df["locked"] = df["locked_until"].map(lambda t: t is not None and t == t and t > now)
        return df.sort_values(["locked", "last_at"], ascending=False, kind="stable"
                              ).reset_index(drop=True)

    # -- API tokens --------------------------------------------------------------------
    def create_token(self, name: str, label: str | None = None) -> str:
        """A new API token for user ``name``; returned once, stored only as its digest."""
        if self.user(name) is None:
            raise DataError(f"No user {name!r}.", hint="Add one first: loyalist user add NAME.")
        token = "lyt_" + secrets.token_urlsafe(32)
        insert_row(self.store, TOKENS, {"token_hash": digest(token), "user_name": name,
                                        "label": label, "created_at": _now()})
        return token

    def user_for_token(self, token: str, address: str | None = None) -> User:
        """The user of a valid token. With ``address``, wrong tokens from it are
        throttled like sign-ins."""
        if address is not None:
            self.check_locked(TOKEN_ACCOUNT, address)
        row = self._one(TOKENS, ["user_name"], {"token_hash": digest(token or ""),
                                                "revoked_at": None})
        user = self.user(row["user_name"]) if row else None
        if user is None:
            if address is not None:
                self.failed(TOKEN_ACCOUNT, address)
            raise AuthError("The API token is not valid.",
                            hint="Create one with `loyalist token create NAME` and send it as "
                            "'Authorization: Bearer TOKEN'.")
        return user

    # -- sessions ----------------------------------------------------------------------
    def create_session(self, user: User) -> tuple[str, str]:
        """A new session for ``user``: (session id for the cookie, CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        delete_rows(self.store, SESSIONS, {"expires_at": ("<", now)})
        insert_row(self.store, SESSIONS, {"id_hash": digest(sid), "user_name": user.name,
                                          "csrf": csrf, "created_at": now,
                                          "expires_at": now + timedelta(hours=SESSION_HOURS)})
        return sid, csrf

    def session(self, sid: str) -> tuple[User, str]:
        """The user and CSRF token of a live session; :class:`AuthError` otherwise."""
        row = self._one(SESSIONS, ["user_name", "csrf"], {"id_hash": digest(sid or ""),
                                                          "expires_at": (">", _now())})
        user = self.user(row["user_name"]) if row else None
        if user is None:
            raise AuthError("Not signed in (or the session has expired).",
                            hint="Sign in at /login.")
        return user, row["csrf"]

    def end_session(self, sid: str) -> None:
        delete_rows(self.store, SESSIONS, {"id_hash": digest(sid or "")})

    # -- idempotency keys --------------------------------------------------------------
    def replay(self, key: str, user: str) -> tuple[str, dict] | None:
        """(fingerprint, body) of the first request sent with ``key`` by ``user``."""
        row = self._one(IDEMPOTENCY, ["fingerprint", "body"], {"key": key, "user_name": user})
        return (row["fingerprint"], json.loads(row["body"])) if row else None

    def remember(self, key: str, user: str, fingerprint: str, body: dict) -> None:
        insert_row(self.store, IDEMPOTENCY, {
            "key": key, "user_name": user, "fingerprint": fingerprint, "status": 200,
            "body": json.dumps(body, default=str), "created_at": _now()})

    # -- audit -------------------------------------------------------------------------
    def audit(self, user: User | str | None, action: str, target: str | None = None,
              detail=None, ip: str | None = None) -> None:
        """Record one write: who, when, what, on what, from where."""
        who = user.name if isinstance(user, User) else user
        text = detail if isinstance(detail, str) or detail is None else json.dumps(
            detail, default=str)
        insert_row(self.store, AUDIT, {
            "id": next_numbers(self.store, f"{AUDIT}_seq", 1)[0], "at": _now(),
            "user_name": who, "action": action, "target": target, "detail": text, "ip": ip})

    def audit_log(self, limit: int = 100) -> pd.DataFrame:
        cols = ["id", "at", "user_name", "action", "target", "detail", "ip"]
        return pd.DataFrame(select_rows(self.store, AUDIT, cols, order_by=["id"],
                                        descending=True, limit=limit), columns=cols)


__all__ = ["ROLES", "Accounts", "AuthError", "ForbiddenError", "User", "digest"]
