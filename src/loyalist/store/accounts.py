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
from loyalist.store.sql import transaction

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

    def _run(self, sql: str, params=()) -> list[tuple]:
        con = self.store.cursor()
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

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
        if self._run(f"SELECT 1 FROM {USERS} WHERE name = ?", [name]):
            raise DataError(f"User {name!r} exists already.",
                            hint="Pick another name, or see them with `loyalist user list`.")
        if person is not None and not str(person).strip():
            raise DataError("The person's id is empty.",
                            hint="Give their staff id (loyalist status shows the staff table).")
        self._run(f"INSERT INTO {USERS} (name, role, password_hash, created_at, disabled, "
                  "person) VALUES (?, ?, ?, ?, false, ?)",
                  [name, role, _hasher.hash(password), _now(), person])
        return User(name, role, person)

    def link_person(self, name: str, person: str) -> User:
        """Say which person (``staff.id``) a user is."""
        if not self._run(f"SELECT 1 FROM {USERS} WHERE name = ?", [name]):
            raise DataError(f"No user {name!r}.", hint="See them with `loyalist user list`.")
        self._run(f"UPDATE {USERS} SET person = ? WHERE name = ?", [person, name])
        return self.user(name)

    def users(self) -> pd.DataFrame:
        """Every user with role and creation time (no hashes)."""
        con = self.store.cursor()
        try:
            return con.execute(f"SELECT name, role, coalesce(person, name) AS person, "
                               f"created_at, disabled FROM {USERS} ORDER BY name").df()
        finally:
            con.close()

    def user(self, name: str) -> User | None:
        rows = self._run(f"SELECT name, role, person FROM {USERS} WHERE name = ? AND NOT "
                         "disabled", [name])
        return User(*rows[0]) if rows else None

    def disable_user(self, name: str) -> None:
        """Stop a user from signing in; ends their sessions and revokes their tokens."""
        if not self._run(f"SELECT 1 FROM {USERS} WHERE name = ?", [name]):
            raise DataError(f"No user {name!r}.", hint="See them with `loyalist user list`.")
        self._run(f"UPDATE {USERS} SET disabled = true WHERE name = ?", [name])
        self._run(f"DELETE FROM {SESSIONS} WHERE user_name = ?", [name])
        self._run(f"UPDATE {TOKENS} SET revoked_at = ? WHERE user_name = ? AND revoked_at IS "
                  "NULL", [_now(), name])

    def has_admin(self) -> bool:
        return bool(self._run(f"SELECT 1 FROM {USERS} WHERE role = 'admin' AND NOT disabled"))

    def authenticate(self, name: str, password: str) -> User:
        """The user whose name and password these are; :class:`AuthError` otherwise."""
        rows = self._run(f"SELECT role, password_hash, person FROM {USERS} WHERE name = ? "
                         "AND NOT disabled", [name])
        bad = AuthError("Wrong user name or password.",
                        hint="Check both; an admin can add users with `loyalist user add`.")
        if not rows:
            _hasher.hash(password or "-")  # same work either way: no timing hint
            raise bad
        role, stored, person = rows[0]
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
        rows = self._run(f"SELECT locked_until FROM {FAILURES} WHERE account = ? AND address = ?"
                         " AND locked_until > ?", [account, address, _now()])
        if rows:
            wait = max(1, int((rows[0][0] - _now()).total_seconds() + 0.999))
            self.audit(None, "signin.throttled", account, {"retry_after": wait}, ip=address)
            raise ThrottledError(
                f"Too many failed sign-ins for {account!r} from this address.",
                retry_after=wait, hint=f"Wait {wait} s and try again, or ask an admin to lift "
                "the lock (loyalist user unlock NAME).")

    def failed(self, account: str, address: str) -> int:
        """Count one failure of (account, address); returns the consecutive count."""
        now = _now()
        con = self.store.cursor()
        try:
            with transaction(con):
                row = con.execute(f"SELECT failures FROM {FAILURES} WHERE account = ? AND "
                                  "address = ?", [account, address]).fetchall()
                n = (row[0][0] if row else 0) + 1
                wait = self.backoff.wait(n)
                until = now + timedelta(seconds=wait) if wait else None
                con.execute(f"INSERT OR REPLACE INTO {FAILURES} VALUES (?, ?, ?, coalesce("
                            f"(SELECT first_at FROM {FAILURES} WHERE account = ? AND "
                            "address = ?), ?), ?, ?)",
                            [account, address, n, account, address, now, now, until])
        finally:
            con.close()
        self.audit(None, "signin.failed", account, {"failures": n, "locked_seconds": wait},
                   ip=address)
        return n

    def clear_failures(self, account: str, address: str | None = None) -> int:
        """Forget the failures of ``account`` (from one address, or all of them);
        returns how many (account, address) records were cleared."""
        if address is None:
            n = self._run(f"SELECT count(*) FROM {FAILURES} WHERE account = ?", [account])[0][0]
            self._run(f"DELETE FROM {FAILURES} WHERE account = ?", [account])
        else:
            n = self._run(f"SELECT count(*) FROM {FAILURES} WHERE account = ? AND address = ?",
                          [account, address])[0][0]
            self._run(f"DELETE FROM {FAILURES} WHERE account = ? AND address = ?",
                      [account, address])
        return int(n)

    def unlock(self, name: str, by: User | str | None = None) -> int:
        """Lift every sign-in lock of ``name`` (an admin's action, audited)."""
        n = self.clear_failures(name)
        self.audit(by, "signin.unlock", name, {"records": n})
        return n

    def failures(self) -> pd.DataFrame:
        """Sign-in failures still counted, locked ones first (the admin view's alert)."""
        con = self.store.cursor()
        try:
            return con.execute(
                f"SELECT account, address, failures, first_at, last_at, locked_until, "
                f"coalesce(locked_until > ?, false) AS locked FROM {FAILURES} "
                "ORDER BY locked DESC, last_at DESC", [_now()]).df()
        finally:
            con.close()

    # -- API tokens --------------------------------------------------------------------
    def create_token(self, name: str, label: str | None = None) -> str:
        """A new API token for user ``name``; returned once, stored only as its digest."""
        if self.user(name) is None:
            raise DataError(f"No user {name!r}.", hint="Add one first: loyalist user add NAME.")
        token = "lyt_" + secrets.token_urlsafe(32)
        self._run(f"INSERT INTO {TOKENS} VALUES (?, ?, ?, ?, NULL)",
                  [digest(token), name, label, _now()])
        return token

    def user_for_token(self, token: str, address: str | None = None) -> User:
        """The user of a valid token. With ``address``, wrong tokens from it are
        throttled like sign-ins."""
        if address is not None:
            self.check_locked(TOKEN_ACCOUNT, address)
        rows = self._run(
            f"SELECT u.name, u.role, u.person FROM {TOKENS} t JOIN {USERS} u ON "
            "u.name = t.user_name "
            "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND NOT u.disabled",
            [digest(token or "")])
        if not rows:
            if address is not None:
                self.failed(TOKEN_ACCOUNT, address)
            raise AuthError("The API token is not valid.",
                            hint="Create one with `loyalist token create NAME` and send it as "
                            "'Authorization: Bearer TOKEN'.")
        return User(*rows[0])

    # -- sessions ----------------------------------------------------------------------
    def create_session(self, user: User) -> tuple[str, str]:
        """A new session for ``user``: (session id for the cookie, CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        self._run(f"DELETE FROM {SESSIONS} WHERE expires_at < ?", [now])
        self._run(f"INSERT INTO {SESSIONS} VALUES (?, ?, ?, ?, ?)",
                  [digest(sid), user.name, csrf, now, now + timedelta(hours=SESSION_HOURS)])
        return sid, csrf

    def session(self, sid: str) -> tuple[User, str]:
        """The user and CSRF token of a live session; :class:`AuthError` otherwise."""
        rows = self._run(
            f"SELECT u.name, u.role, u.person, s.csrf FROM {SESSIONS} s JOIN {USERS} u ON "
            "u.name = s.user_name WHERE s.id_hash = ? AND s.expires_at > ? AND NOT u.disabled",
            [digest(sid or ""), _now()])
        if not rows:
            raise AuthError("Not signed in (or the session has expired).",
                            hint="Sign in at /login.")
        name, role, person, csrf = rows[0]
        return User(name, role, person), csrf

    def end_session(self, sid: str) -> None:
        self._run(f"DELETE FROM {SESSIONS} WHERE id_hash = ?", [digest(sid or "")])

    # -- idempotency keys --------------------------------------------------------------
    def replay(self, key: str, user: str) -> tuple[str, dict] | None:
        """(fingerprint, body) of the first request sent with ``key`` by ``user``."""
        rows = self._run(f"SELECT fingerprint, body FROM {IDEMPOTENCY} WHERE key = ? AND "
                         "user_name = ?", [key, user])
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    def remember(self, key: str, user: str, fingerprint: str, body: dict) -> None:
        self._run(f"INSERT INTO {IDEMPOTENCY} VALUES (?, ?, ?, 200, ?, ?)",
                  [key, user, fingerprint, json.dumps(body, default=str), _now()])

    # -- audit -------------------------------------------------------------------------
    def audit(self, user: User | str | None, action: str, target: str | None = None,
              detail=None, ip: str | None = None) -> None:
        """Record one write: who, when, what, on what, from where."""
        who = user.name if isinstance(user, User) else user
        text = detail if isinstance(detail, str) or detail is None else json.dumps(
            detail, default=str)
        self._run(f"INSERT INTO {AUDIT} VALUES (nextval('{AUDIT}_seq'), ?, ?, ?, ?, ?, ?)",
                  [_now(), who, action, target, text, ip])

    def audit_log(self, limit: int = 100) -> pd.DataFrame:
        con = self.store.cursor()
        try:
            return con.execute(f"SELECT * FROM {AUDIT} ORDER BY id DESC LIMIT ?",
                               [int(limit)]).df()
        finally:
            con.close()


__all__ = ["ROLES", "Accounts", "AuthError", "ForbiddenError", "User", "digest"]
