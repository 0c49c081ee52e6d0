"""Health checks for load balancers and orchestrators, and the favicon browsers ask for.

`/healthz` says the process answers and touches nothing else, so a database outage never makes
an orchestrator restart every web process at once; `/readyz` says whether this process can serve:
the database and the broker answer and the schema is at the migrations' head.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify, send_from_directory

from portal.core.extensions import db

bp = Blueprint("health", __name__)

BROKER_TIMEOUT_S = 2


@bp.get("/healthz")
def healthz():
    """The process is up and answers requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database, the broker and the schema are ready; 503 naming what failed."""
    checks = {
        "database": _check(_database),
        "broker": _check(_broker),
        "migrations": _check(_migrations),
    }
    failed = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "failed" if failed else "ok",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    return jsonify(body), 503 if failed else 200


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers fetch from the root whatever the page links."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )


def _check(probe) -> str:
    """'' when the probe passes, else one line saying what failed."""
    try:
        return probe() or ""
    except Exception as error:  # noqa: BLE001  (any failure is the answer, not a crash)
        return f"{type(error).__name__}: {error}".splitlines()[0][:300]
    finally:
        # A failed probe must not leave the request's session in a broken transaction.
        db.session.rollback()


def _database() -> str:
    db.session.execute(sa.text("SELECT 1"))
    return ""


def _broker() -> str:
    celery = current_app.extensions["celery"]
    with celery.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
    return ""


def _migrations() -> str:
    heads = set(_script_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        return f"schema at {sorted(current) or 'nothing'}, migrations at {sorted(heads)}"
    return ""


def _script_heads() -> tuple[str, ...]:
    # The migration files do not change while the process runs: read them once.
    heads = current_app.extensions.get("portal.migration_heads")
    if heads is None:
        directory = Path(current_app.extensions["migrate"].directory)
        if not directory.is_absolute():
            directory = Path(current_app.root_path).parent / directory
        config = Config()
        config.set_main_option("script_location", str(directory))
        heads = tuple(ScriptDirectory.from_config(config).get_heads())
        current_app.extensions["portal.migration_heads"] = heads
    return heads
