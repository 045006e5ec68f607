"""``loyalist user add|list`` and ``loyalist token create``: accounts of the web app."""

from __future__ import annotations

import sys

import typer

import loyalist
from loyalist.cli.options import STORE, group, open_store
from loyalist.cli.tables import Col, moment, out, show
from loyalist.errors import DataError

user_app = group("Users of the web app and API (roles: viewer, agent, lead, admin).")
token_app = group("API tokens (sent as 'Authorization: Bearer TOKEN').")


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    again = typer.prompt("Repeat the password", hide_input=True)
    if first != again:
        raise DataError("The two passwords differ.", hint="Run the command again.")
    return first


@user_app.command("add")
def add(
    name: str = typer.Argument(..., help="User name (letters, digits, . _ @ -)."),
    role: str = typer.Option("viewer", help="viewer (reads), agent (works the "
                             "worklist), lead (assigns any item, raises caps) or admin "
                             "(users, ingest, settings)."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from the first line of stdin."),
    person: str = typer.Option(None, help="The person this user is: their staff id, the "
                               "id that owns worklist items (default: the user name)."),
    store: str = STORE,
) -> None:
    """Add a user; asks for the password (hidden) unless --password-stdin."""
    from loyalist.store.accounts import Accounts, check_role

    check_role(role)
    password = _password(password_stdin)
    with loyalist.connect(store) as s:
        user = Accounts(s).add_user(name, password, role=role, person=person)
        Accounts(s).audit("cli", "user.add", user.name, {"role": user.role,
                                                         "person": user.person})
    out.print(f"User {user.name} added with role {user.role}.", highlight=False,
              markup=False)


@user_app.command("list")
def list_users(store: str = STORE) -> None:
    """List the users and their roles."""
    from loyalist.store.accounts import Accounts

    with open_store(store) as s:
        df = Accounts(s).users()
    if df.empty:
        out.print(f"No users yet: loyalist user add NAME --role admin --store {store}",
                  highlight=False, markup=False)
        return
    show([Col("name"), Col("role"), Col("person"), Col("created", drop=1),
          Col("disabled", drop=2)],
         [(r.name, r.role, r.person, moment(r.created_at),
           "yes" if r.disabled else "") for r in df.itertuples(index=False)])


@user_app.command("disable")
def disable(name: str = typer.Argument(..., help="The user to stop."), store: str = STORE
            ) -> None:
    """Stop a user: no more sign-ins; their sessions end and their tokens stop working."""
    from loyalist.store.accounts import Accounts

    with open_store(store) as s:
        Accounts(s).disable_user(name)
        Accounts(s).audit("cli", "user.disable", name)
    out.print(f"User {name} disabled; sessions ended, tokens revoked.",
              highlight=False, markup=False)


@user_app.command("link")
def link(name: str = typer.Argument(..., help="The user."),
         person: str = typer.Option(..., help="Their staff id (the id that owns worklist "
                                    "items and handles requests)."),
         store: str = STORE) -> None:
    """Say which person (staff id) a user is: their items are 'mine' in the worklist."""
    from loyalist.store.accounts import Accounts

    with open_store(store) as s:
        user = Accounts(s).link_person(name, person)
        Accounts(s).audit("cli", "user.link", name, {"person": person})
    out.print(f"{user.name} is now {user.person}.", highlight=False, markup=False)


@user_app.command("unlock")
def unlock(name: str = typer.Argument(..., help="The account to let sign in again."),
           store: str = STORE) -> None:
    """Lift the sign-in back-off of an account (after failed passwords), from every address."""
    from loyalist.store.accounts import Accounts

    with open_store(store) as s:
        n = Accounts(s).unlock(name, by="cli")
    out.print(f"{name}: {n} sign-in lock{'s' if n != 1 else ''} lifted." if n else
              f"{name} has no failed sign-ins on record.", highlight=False, markup=False)


@user_app.command("signins")
def signins(store: str = STORE) -> None:
    """Failed sign-ins still counted, per account and address; locked ones first."""
    from loyalist.store.accounts import Accounts

    with open_store(store) as s:
        df = Accounts(s).failures()
    if df.empty:
        out.print("No failed sign-ins on record.")
        return
    show([Col("account"), Col("address"), Col("failures", right=True), Col("last", drop=1),
          Col("locked until")],
         [(r.account, r.address, str(r.failures), moment(r.last_at),
           f"{r.locked_until:%H:%M:%S}" if r.locked else "") for r in df.itertuples(index=False)])


@token_app.command("create")
def create(
    name: str = typer.Argument(..., help="The user the token acts for."),
    label: str = typer.Option(None, help="What the token is for (e.g. 'crm sync')."),
    store: str = STORE,
) -> None:
    """Create an API token for a user; it is shown once and stored only hashed."""
    from loyalist.store.accounts import Accounts

    with open_store(store) as s:
        token = Accounts(s).create_token(name, label)
        Accounts(s).audit("cli", "token.create", name, {"label": label})
    out.print("Token (shown once; keep it secret):", highlight=False)
    typer.echo(token)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
