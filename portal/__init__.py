"""HQ Portal: the retail HQ back-office that prepares stores and registers for offline selling."""

import gc
from pathlib import Path

from flask import Flask, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.routing import IntegerConverter, PathConverter

from portal import config
from portal.celery_app import celery_init_app
from portal.core import logs, metrics, security
from portal.core.api import API_PREFIX, RecordKey
from portal.core.errors import Conflict, DomainError, render_error
from portal.core.extensions import api, csrf, db, login_manager, migrate

# An uploaded batch allocates hundreds of thousands of short-lived objects (decimals, dicts). At
# CPython's default thresholds (700, 10, 10) the cyclic collector then runs hundreds of times a
# batch, rescanning every survivor: a fifth of an upload's time (bench/RESULTS.md). Collecting
# every 50,000 allocations keeps cyclic garbage bounded at a fraction of that cost.
GC_THRESHOLDS = (50_000, 20, 20)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the portal; `test_config` overrides the environment's configuration."""
    gc.set_threshold(*GC_THRESHOLDS)
    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    )
    app.config.from_mapping(config.load(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    # Ids beyond the primary keys' 32-bit integer cannot exist; the database would fail on them
    # (PostgreSQL: integer out of range) instead of answering 404.
    app.url_map.converters["int"] = DatabaseId
    app.url_map.converters["key"] = RecordKey
    app.url_map.converters["profile_name"] = ProfileName
    register_extensions(app)
    register_blueprints(app)
    register_receivers(app)
    register_errorhandlers(app)
    register_commands(app)
    celery_init_app(app)
    return app


class DatabaseId(IntegerConverter):
    """An `<int:...>` URL part that only matches what fits an INTEGER primary key."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


class ProfileName(PathConverter):
    """A `<profile_name:name>` URL part: an offline profile's name, which may hold a '/', but
    not end in `/preview`: that path is the profile's scope-size preview, so a PATCH there is
    refused (405) rather than taken as a change of a profile so named.
    """

    regex = PathConverter.regex + "(?<!/preview)"
    part_isolating = False


def register_extensions(app: Flask) -> None:
    """Bind the extensions of `portal.core.extensions` to this app."""
    from portal import models  # noqa: F401  (every model must be known to migrations)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    api.init_app(app)
    security.init_app(app)
    metrics.init_app(app)
    logs.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Mount the HTML pages and the JSON API of every feature."""
    from portal.auditor import anomaly_api as anomalies_api
    from portal.auditor import anomaly_views as anomalies_views
    from portal.auditor import reconciliation_views
    from portal.auditor import statement_api as statements_api
    from portal.auditor import transaction_api as transactions_auditor_api
    from portal.auditor import transaction_views as transactions_views
    from portal.auth import audit_views, password_views  # noqa: F401  (auth's routes)
    from portal.auth import views as auth_views
    from portal.core import health
    from portal.dashboard import views as dashboard_views
    from portal.device_api import activation_api  # noqa: F401  (its route is channels_api's)
    from portal.device_api import api as device_api
    from portal.device_api import statements as device_statements
    from portal.device_api import uploads as device_uploads
    from portal.device_api import views as device_views
    from portal.distribution import (
        alert_api,
        alert_views,
        catalogue_api,
        lifecycle_api,
        lifecycle_views,
        schedule_views,
    )
    from portal.distribution import api as distribution_api
    from portal.distribution import preview_api as preview_routes  # noqa: F401  (on profiles API)
    from portal.distribution import views as distribution_views
    from portal.masterdata import api as masterdata_api
    from portal.masterdata import views as masterdata_views
    from portal.ops import views as ops_views
    from portal.setup.bulk import api as bulk_api
    from portal.setup.bulk import views as bulk_views
    from portal.setup.channels import api as channels_api
    from portal.setup.channels import views as channels_views
    from portal.setup.offline_profiles import api as offline_profiles_api
    from portal.setup.offline_profiles import views as offline_profiles_views
    from portal.setup.registers import api as registers_api
    from portal.setup.registers import views as registers_views
    from portal.setup.stores import api as stores_api
    from portal.setup.stores import views as stores_views

    for module in (
        health,
        ops_views,
        dashboard_views,
        auth_views,
        audit_views,
        stores_views,
        registers_views,
        channels_views,
        offline_profiles_views,
        distribution_views,
        schedule_views,
        lifecycle_views,
        alert_views,
        masterdata_views,
        device_views,
        transactions_views,
        anomalies_views,
        bulk_views,
        reconciliation_views,
    ):
        app.register_blueprint(module.bp)
    for blueprint in (
        stores_api.blp,
        registers_api.blp,
        channels_api.databases_blp,
        channels_api.groups_blp,
        offline_profiles_api.blp,
        distribution_api.schedules_blp,
        distribution_api.runs_blp,
        lifecycle_api.sessions_blp,
        catalogue_api.jobs_blp,
        catalogue_api.parameters_blp,
        alert_api.webhooks_blp,
        alert_api.notifications_blp,
        masterdata_api.blp,
        device_api.blp,
        device_uploads.blp,
        device_statements.blp,
        transactions_auditor_api.blp,
        anomalies_api.blp,
        bulk_api.operations_blp,
        statements_api.blp,
    ):
        api.register_blueprint(blueprint)
        # Bearer tokens, not cookies, authenticate the API, so CSRF tokens do not apply there.
        csrf.exempt(blueprint)


def register_receivers(app: Flask) -> None:
    """Connect the packages that react to another's signals (a higher one to a lower one's)."""
    from portal import auditor, device_api, ops
    from portal.distribution import alerts, history, preview_views
    from portal.distribution import tasks as distribution_tasks

    auditor.init_app(app)
    device_api.init_app(app)
    history.init_app(app)
    ops.init_app(app)
    preview_views.init_app(app)
    alerts.init_app(app)
    distribution_tasks.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """Answer rule violations and integrity clashes in JSON under /api, as pages elsewhere."""

    def on_domain_error(error: DomainError):
        db.session.rollback()
        if request.path.startswith(API_PREFIX):
            return jsonify(error.to_dict()), error.status
        return render_error(_http_error(error.status, error.message))

    def on_integrity_error(error: IntegrityError):
        db.session.rollback()
        clash = Conflict("The change clashes with data saved meanwhile; reload and try again.")
        return on_domain_error(clash)

    app.register_error_handler(DomainError, on_domain_error)
    app.register_error_handler(IntegrityError, on_integrity_error)


def register_commands(app: Flask) -> None:
    """Add the `flask portal ...` commands."""
    from portal.cli import portal_cli

    app.cli.add_command(portal_cli)


def _http_error(status: int, message: str) -> HTTPException:
    return default_exceptions[status](description=message)
