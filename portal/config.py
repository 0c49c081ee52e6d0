"""Configuration from environment variables, with defaults that need no server."""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any


class ConfigurationError(RuntimeError):
    """The portal cannot start with the configuration it was given."""


def database_url(instance_path: str) -> str:
    """`DATABASE_URL`, or a SQLite file in the instance folder; PostgreSQL uses psycopg 3."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'portal.sqlite'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def broker_url(instance_path: str) -> str:
    """`REDIS_URL`, or kombu's SQLAlchemy transport on a SQLite file (the embedded broker)."""
    return os.environ.get("REDIS_URL") or f"sqla+sqlite:///{Path(instance_path) / 'broker.sqlite'}"


def broker_transport_options(broker: str) -> dict[str, Any]:
    """Options for the broker's transport.

    Only Redis knows a visibility timeout; kombu hands the SQLAlchemy transport's options to
    create_engine, which refuses unknown ones.
    """
    return {"visibility_timeout": 3600} if broker.startswith("redis") else {}


def secret_key(instance_path: str, production: bool) -> str:
    """`SECRET_KEY`; outside production a random key is kept in the instance folder."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise ConfigurationError("SECRET_KEY must be set when PORTAL_ENV=production")
    key_file = Path(instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


LOOPBACK = ("127.0.0.0/8", "::1/128")


def metrics_allow(production: bool) -> list[str]:
    """`METRICS_ALLOW`: networks reading /metrics with no token; loopback outside production."""
    raw = os.environ.get("METRICS_ALLOW")
    if raw is None:
        return [] if production else list(LOOPBACK)
    networks = [item for item in raw.replace(",", " ").split() if item]
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as error:
            raise ConfigurationError(f"METRICS_ALLOW: {error}") from None
    return networks


def load(instance_path: str) -> dict[str, Any]:
    """Build the app configuration from the environment."""
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    production = os.environ.get("PORTAL_ENV", "development") == "production"
    broker = broker_url(instance_path)
    return {
        "PORTAL_ENV": "production" if production else "development",
        "SECRET_KEY": secret_key(instance_path, production),
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        # No ping before each request: it was a round trip (and about a millisecond of CPU) on
        # every one. A connection the server dropped (a restart, a fail-over) fails its request,
        # and that invalidates every older connection of the process's pool, so the next ones
        # connect afresh; connections are also renewed hourly, before any idle time-out.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 3600},
        # A folder, or `s3://bucket/prefix` for an S3-compatible object store.
        "PACKAGE_STORE": os.environ.get("PACKAGE_STORE") or str(Path(instance_path) / "packages"),
        # The S3 API's address when it is not AWS's (MinIO, Ceph, a gateway).
        "PACKAGE_STORE_ENDPOINT": os.environ.get("PACKAGE_STORE_ENDPOINT", ""),
        # How long a presigned download link of a package in object storage works.
        "PACKAGE_URL_SECONDS": int(os.environ.get("PACKAGE_URL_SECONDS", "300")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # "Keep me signed in" lasts this long, and so does any sign-in on the server's side.
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "API_TITLE": "HQ Portal API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        # Every operation takes a user's token unless it names another scheme: the device API
        # takes a device's token, and activation none.
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {
                    "userToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A user's API token; it acts with the user's role.",
                    },
                    "deviceToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "The device token a channel database's device got by "
                        "activating.",
                    },
                }
            },
            "security": [{"userToken": []}],
        },
        "PER_PAGE": 25,
        # Mail for invitations and password resets; with no server the link goes to the log.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "HQ Portal <hq-portal@localhost>"),
        # Links in mails start with this address; a request's own Host header could be forged.
        "PORTAL_URL": os.environ.get("PORTAL_URL", "").rstrip("/"),
        # `json`: one JSON object per log line, with the request id, user or device, task id.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # Who may scrape /metrics: a bearer token, or an address in the allowed networks.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        "METRICS_ALLOW": metrics_allow(production),
        # The scheduler's parameters (portal.distribution.parameters) are stored in the
        # database; these settings are only their values on a fresh install, until first saved.
        # Download sessions applied or ended this many days ago are deleted (but the latest).
        "SESSION_HISTORY_DAYS": int(os.environ.get("SESSION_HISTORY_DAYS", "30")),
        # Package files that every target has applied are removed after this many days.
        "PACKAGE_RETENTION_DAYS": int(os.environ.get("PACKAGE_RETENTION_DAYS", "7")),
        # A package build that has not finished after this long is handed to a worker again.
        "STALLED_BUILD_MINUTES": int(os.environ.get("STALLED_BUILD_MINUTES", "15")),
        # A session whose build was lost this many times is marked create_failed, not rebuilt.
        "MAX_BUILD_ATTEMPTS": int(os.environ.get("MAX_BUILD_ATTEMPTS", "3")),
        # A package a device failed to download or apply this many times needs a scheduler; as
        # many heartbeats asked to upload (job P-0001) before the upload request fails.
        "SESSION_TRY_COUNT": int(os.environ.get("SESSION_TRY_COUNT", "3")),
        # A webhook delivery that failed is tried again after this many seconds, then after
        # twice as long each time.
        "WEBHOOK_RETRY_SECONDS": int(os.environ.get("WEBHOOK_RETRY_SECONDS", "30")),
        # The worklist shows a database as behind with more packages than this waiting.
        "WORKLIST_BEHIND_PACKAGES": int(os.environ.get("WORKLIST_BEHIND_PACKAGES", "5")),
        # A device silent for longer than this counts as offline on the devices dashboard.
        "DEVICE_SILENT_MINUTES": int(os.environ.get("DEVICE_SILENT_MINUTES", "15")),
        # An online device with a package pending for longer than this counts as behind.
        "DEVICE_BEHIND_MINUTES": int(os.environ.get("DEVICE_BEHIND_MINUTES", "60")),
        # Failed sign-ins from one address, whatever the emails (password spraying). Above the
        # per-email limit, so one person locked out of their account does not lock out everyone
        # behind the same address.
        "SIGN_IN_ADDRESS_LIMIT": os.environ.get(
            "SIGN_IN_ADDRESS_LIMIT", "12 per minute; 50 per hour"
        ),
        # A sale made this many days or more before HQ received it is an OLD_DATE anomaly.
        "ANOMALY_OLD_DAYS": int(os.environ.get("ANOMALY_OLD_DAYS", "30")),
        # A bulk change of more records than this runs in a worker, with a progress bar.
        "BULK_TASK_THRESHOLD": int(os.environ.get("BULK_TASK_THRESHOLD", "1000")),
        # A register's sales past its last shift statement, this old, are a statement missing.
        "STATEMENT_DUE_HOURS": int(os.environ.get("STATEMENT_DUE_HOURS", "24")),
        "CELERY": {
            "broker_url": broker,
            "task_ignore_result": True,
            # A queue per deployment lets several portals (or test runs) share one Redis.
            "task_default_queue": os.environ.get("CELERY_QUEUE", "hqportal"),
            # A build killed mid-way is redelivered instead of lost.
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            # "Run now" must answer quickly when the broker is down: the run waits, recorded.
            "broker_connection_timeout": 2,
            # One tick a minute starts the schedules that are due (recurrences are editable data).
            "beat_schedule": {
                "distribution-tick": {"task": "distribution.tick", "schedule": 60.0},
                "package-retention": {"task": "distribution.clean_packages", "schedule": 3600.0},
                "session-history": {"task": "distribution.prune_history", "schedule": 3600.0},
                # Databases behind for too long, and webhook deliveries whose task was lost.
                "alerts": {"task": "distribution.check_alerts", "schedule": 300.0},
                # The devices dashboard's chart over time: one count per state every 5 minutes.
                "fleet-sample": {"task": "device_api.sample_fleet", "schedule": 300.0},
                # Registers that sold but closed no shift (portal.auditor.shifts_due).
                "statements-due": {"task": "auditor.statements_due", "schedule": 3600.0},
            },
            "broker_transport_options": broker_transport_options(broker),
        },
    }
