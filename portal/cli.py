"""`flask --app app portal ...`: user administration and demo data from the shell."""

import sys
import time

import click
from flask.cli import AppGroup

from portal import demo
from portal.audit import services as audit
from portal.auth import roles
from portal.auth import services as auth
from portal.core.errors import DomainError, NotFound
from portal.core.extensions import db
from portal.device_api import credentials
from portal.distribution import runs, tasks
from portal.distribution import services as schedules
from portal.distribution.models import RUN_CANCELED, RUN_FAILED, RUN_FINISHED
from portal.masterdata import csv_import
from portal.masterdata.demo_products import MAX_PRODUCTS
from portal.setup.bulk import csv_io as setup_csv

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


@portal_cli.command("activation-code")
@click.argument("database")
def activation_code(database: str) -> None:
    """Issue a one-time activation code for a channel database and print it (shown only once).

    DATABASE is the database's id or name, a register number (its offline database) or a store
    number (its channel database).
    """

    def issue():
        found = credentials.find_database(database)
        if found is None:
            raise NotFound(f"No channel database is called or numbered '{database}'.")
        return credentials.issue_activation_code(found)

    activation, code = _run(issue)
    click.echo(code)
    click.echo(f"Valid until {activation.expires_at:%Y-%m-%d %H:%M} UTC.", err=True)


@portal_cli.command("seed-demo")
@click.option(
    "--products",
    default=demo.DEMO_PRODUCTS,
    show_default=True,
    type=click.IntRange(0, MAX_PRODUCTS),
    help="Products in the demo catalogue (each with barcodes, prices and assortment lines)",
)
def seed_demo(products: int) -> None:
    """Load demo stores, registers, groups, profiles, master data, the jobs and demo users."""

    def checkpoint(message: str) -> None:
        # Each chunk of products is its own unit of work: a big load commits as it goes.
        db.session.commit()
        click.echo(message)

    summary = _run(lambda: demo.seed(products, checkpoint))
    for line in summary:
        click.echo(line)


@portal_cli.command("import-csv")
@click.argument("entity")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check every row and save nothing")
def import_csv(entity: str, file, dry_run: bool) -> None:
    """Import rows of a master data table, or `stores` or `registers`, from a CSV file.

    The header row names the fields. All or nothing: every error is listed with its line number
    and nothing is saved.
    """
    if entity in setup_csv.COLUMNS:
        _import_setup(entity, file.read(), dry_run)
        return
    outcome = _run(lambda: csv_import.import_csv(entity, file, dry_run))
    verb = "Dry run of" if dry_run else "Imported"
    click.echo(
        f"{verb} {entity}: {outcome.inserted} inserted, {outcome.updated} updated, "
        f"{outcome.deleted} deleted"
        + (f" (change version {outcome.version})." if outcome.version else "; nothing saved.")
    )


def _import_setup(kind: str, content: bytes, dry_run: bool) -> None:
    def change():
        result = setup_csv.import_csv(kind, content, dry_run)
        if dry_run:
            # A dry run makes every change to check it, then takes it back.
            db.session.rollback()
        return result

    result = _run(change)
    verb = "Dry run of" if dry_run else "Imported"
    saved = f" (operation {result['operation']})." if result["operation"] else "; nothing saved."
    click.echo(
        f"{verb} {kind}: {result['created']} created, {result['updated']} changed, "
        f"{result['unchanged']} unchanged{saved}"
    )


@portal_cli.command("export-csv")
@click.argument("kind", type=click.Choice(sorted(setup_csv.COLUMNS)))
def export_csv(kind: str) -> None:
    """Write every store or register as CSV to standard output, the columns of the API."""
    click.echo(setup_csv.export_text(kind), nl=False)


@portal_cli.command("roles-table")
@click.option(
    "--readme",
    type=click.Path(exists=True, dir_okay=False),
    help="Rewrite the table under this README's '## Roles' heading instead of printing it",
)
def roles_table(readme: str | None) -> None:
    """Print the role table (Markdown) from the permissions in the code, or rewrite a README's."""
    if readme is None:
        click.echo(roles.roles_table(), nl=False)
        return
    with open(readme, encoding="utf-8") as file:
        text = file.read()
    with open(readme, "w", encoding="utf-8") as file:
        file.write(roles.with_roles_table(text))
    click.echo(f"Rewrote the role table in {readme}.")


@portal_cli.command("run-schedule")
@click.argument("code")
@click.option("--full", is_flag=True, help="Full data sync: full packages for every target")
@click.option("--wait", is_flag=True, help="Follow the run's progress until it ends")
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait with --wait")
def run_schedule(code: str, full: bool, wait: bool, timeout: int) -> None:
    """Run a distribution schedule now (as "Run now" does); exits non-zero if the run failed."""
    run = _run(lambda: runs.request_run(schedules.get_schedule(code), full))
    run_id = run.id
    if not tasks.dispatch_run(run_id):
        click.echo(f"Run {run_id} is waiting: the task queue is unreachable.", err=True)
    else:
        click.echo(f"Run {run_id} of schedule {code} requested ({'full' if full else 'auto'}).")
    if wait:
        _follow(run_id, timeout)


def _follow(run_id: int, timeout: int) -> None:
    deadline = time.monotonic() + timeout
    shown = None
    while True:
        db.session.expire_all()
        run = runs.get_run(run_id)
        line = (
            f"[{run.status}] {run.sessions_done}/{run.sessions_total} packages, "
            f"{run.rows_written} rows, {runs.progress(run)}%"
        )
        if line != shown:
            click.echo(line)
            shown = line
        if run.status in RUN_FINISHED:
            break
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"Run {run_id} is still {run.status} after {timeout}s; is a worker running?"
            )
        db.session.rollback()
        time.sleep(0.5)
    if run.message:
        click.echo(run.message)
    if run.status == RUN_FAILED:
        raise click.ClickException(f"Run {run_id} failed.")
    if run.status == RUN_CANCELED:
        raise click.ClickException(f"Run {run_id} was canceled.")
