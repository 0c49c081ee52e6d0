"""`flask --app app portal ...`: user administration and demo data from the shell."""

import sys

import click
from flask.cli import AppGroup

from portal import demo
from portal.audit import services as audit
from portal.auth import services as auth
from portal.core.errors import DomainError
from portal.extensions import db

portal_cli = AppGroup("portal", help="HQ Portal administration.")


def _run(action):
    """Run one unit of work: commit on success, roll back and exit non-zero on a refusal."""
    audit.set_actor("cli", "cli")
    try:
        result = action()
        db.session.commit()
        return result
    except DomainError as error:
        db.session.rollback()
        fields = "".join(f"\n  {name}: {text}" for name, text in error.fields.items())
        raise click.ClickException(f"{error.message}{fields}") from None


@portal_cli.command("create-user")
@click.argument("email")
@click.option("--role", required=True, help="admin, hq, scheduler or auditor")
@click.option("--name", default="", help="Display name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
def create_user(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a user; the password comes from stdin or an interactive prompt."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = _run(lambda: auth.create_user(email, role, password, name))
    click.echo(f"Created {user.role} user {user.email}.")


@portal_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="CLI token", help="What the token is for")
def create_token(email: str, name: str) -> None:
    """Issue an API token for a user and print it (it is shown only this once)."""
    _, secret = _run(lambda: auth.create_token(auth.get_user(email), name))
    click.echo(secret)


@portal_cli.command("seed-demo")
def seed_demo() -> None:
    """Load demo stores, registers, groups, profiles, the standard jobs and demo users."""
    summary = _run(demo.seed)
    for line in summary:
        click.echo(line)
