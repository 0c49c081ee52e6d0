"""Walk every route of the URL map with real objects filling its parameters."""

import json
import re
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule

from portal.audit import operations
from portal.audit.models import AuditEntry
from portal.auditor.models import Anomaly
from portal.auth import services as auth
from portal.core.api import API_PREFIX
from portal.core.extensions import db
from portal.device_api.models import DeviceToken
from portal.distribution import alerts, runs, webhooks
from portal.distribution import services as distribution
from portal.distribution.alert_models import RUN_FAILED
from portal.distribution.models import DownloadSession, SchedulerJob
from portal.masterdata import services as masterdata
from portal.transactions import ingest
from portal.transactions.models import PosTransaction, UploadSession
from tests.factories import RegisterFactory

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The collection a URL parameter follows names the object it picks: /stores/<store_number>.
SEGMENT_KINDS = {
    "stores": "store",
    "registers": "register",
    "channel-data-groups": "group",
    "channel-databases": "database",
    "offline-profiles": "profile",
    "scopes": "scope",
    "scheduler-jobs": "job",
    "jobs": "job",
    "distribution-schedules": "schedule",
    "schedules": "schedule",
    "runs": "run",
    "sessions": "session",
    "download-sessions": "session",
    "packages": "session",
    "users": "user",
    "tokens": "token",
    "device-tokens": "device_token",
    "audit": "entry",
    "masterdata": "masterdata_row",
    "rows": "masterdata_row",
    "transactions": "transaction",
    "anomalies": "anomaly",
    "upload-sessions": "upload_session",
    "operations": "operation",
    "webhooks": "webhook",
    "notifications": "notification",
}


def is_api(rule: Rule) -> bool:
    """Whether the rule belongs to the JSON API."""
    return rule.rule.startswith(API_PREFIX)


# Devices call these with device tokens, which no HQ user's token replaces; activation is open.
DEVICE_PREFIX = f"{API_PREFIX}/device/"
DEVICE_ACTIVATION = "device_api.Activation"


def is_device(rule: Rule) -> bool:
    """Whether the rule belongs to the device API."""
    return rule.rule.startswith(DEVICE_PREFIX)


def walk(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method): reads first, then writes, destructive ones and sign-out last."""
    pairs = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    return sorted(pairs, key=_order)


def _order(pair: tuple[Rule, str]) -> tuple:
    rule, method = pair
    write = method in WRITE_METHODS
    destructive = write and (
        method == "DELETE" or any(word in rule.rule for word in ("delete", "revoke"))
    )
    return rule.endpoint == "auth.logout", destructive, write, rule.rule, method


def make_objects(app: Flask, email: str) -> dict[str, dict[str, Any]]:
    """One object of every kind a URL can name, as column values; the tokens are `email`'s."""
    with app.app_context():
        register = RegisterFactory(support_offline=True)
        store = register.store
        distribution.ensure_standard_jobs()
        job = db.session.scalar(sa.select(SchedulerJob).filter_by(job_number="1080"))
        schedule = distribution.create_schedule(
            {"code": "TAX", "jobs": [job.job_number], "groups": [store.channel_data_group.name]}
        )
        run = runs.request_run(schedule)
        session = DownloadSession(
            run=run, channel_database=register.offline_database, job_number="1080"
        )
        db.session.add(session)
        tax_code = masterdata.create_row("tax_code", {"code": "WALK", "name": "Route walk"})
        user = auth.get_user(email)
        token, _ = auth.create_token(user, "route walk")
        device_token = DeviceToken(
            channel_database=register.offline_database, token_hash="0" * 64, prefix="hqd_routewlk"
        )
        db.session.add(device_token)
        sale = _uploaded_sale(register)
        anomaly = Anomaly(
            kind="price_override",
            store_id=sale.store_id,
            register_id=sale.register_id,
            pos_transaction_id=sale.id,
            message="Route walk",
        )
        db.session.add(anomaly)
        operation = operations.start("registers.bulk", "register", {"ids": [], "set": {}}, 0)
        operations.finish(operation)
        webhook = webhooks.create_webhook(
            {"url": "http://127.0.0.1:9/hook", "secret": "route-walk-secret-1"}
        )
        notification = alerts.raise_notification(
            RUN_FAILED, "run:walk", "Route walk", run_id=run.id
        )
        db.session.commit()
        entry = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.id.desc()))
        objects = {
            "store": store,
            "register": register,
            "group": store.channel_data_group,
            "database": register.offline_database,
            "profile": store.offline_profile,
            "scope": store.offline_profile.scopes[0],
            "job": job,
            "schedule": schedule,
            "run": run,
            "session": session,
            "user": user,
            "token": token,
            "device_token": device_token,
            "entry": entry,
            "masterdata_row": tax_code,
            "transaction": sale,
            "anomaly": anomaly,
            "upload_session": db.session.get(UploadSession, sale.upload_session_id),
            "operation": operation,
            "webhook": webhook,
            "notification": notification,
        }
        values = {
            kind: {a.key: getattr(obj, a.key) for a in sa.inspect(obj).mapper.column_attrs}
            for kind, obj in objects.items()
        }
        values["masterdata_row"]["entity"] = "tax_code"
        db.session.remove()
    return values


def _uploaded_sale(register) -> PosTransaction:
    """A sale of the register, taken in through the upload service as its device would send it."""
    number = register.register_number
    sale = {
        "transaction_id": "6f1c2b1e-0000-4000-8000-000000000001",
        "register": number,
        "sequence": 1,
        "receipt_number": f"{number}-000001",
        "staff": "000160",
        "created_at": "2026-11-20T14:03:11-06:00",
        "offline": True,
        "lines": [{"product": "P-1", "quantity": "1", "unit_price": "2.50", "tax_amount": "0"}],
        "payments": [{"method": "cash", "amount": "2.50"}],
        "total": "2.50",
    }
    ingest.receive(register.offline_database, json.dumps({"transactions": [sale]}).encode(), None)
    return db.session.scalar(
        sa.select(PosTransaction).filter_by(transaction_id=sale["transaction_id"])
    )


# Query parameters an endpoint requires: (name, kind of object, column).
REQUIRED_QUERY = {
    "offline_profiles_api.OfflineProfilePreview": ("store", "store", "store_number"),
}


def url_for_rule(rule: Rule, objects: dict[str, dict[str, Any]]) -> str:
    """The rule's URL with every parameter taken from the object it names."""
    # A default (the `kind` of a route served under /stores and /registers) is the rule's own.
    defaults = rule.defaults or {}
    values = {
        name: defaults[name] if name in defaults else _value(rule, name, objects)
        for name in rule.arguments
    }
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} from {values}"
    if rule.endpoint in REQUIRED_QUERY:
        name, kind, column = REQUIRED_QUERY[rule.endpoint]
        return f"{built[1]}?{urlencode({name: objects[kind][column]})}"
    return built[1]


def _value(rule: Rule, name: str, objects: dict[str, dict[str, Any]]) -> Any:
    found = re.search(rf"/([^/<]+)/<(?:[^:<>]+:)?{name}>", rule.rule)
    kind = SEGMENT_KINDS.get(found.group(1)) if found else None
    assert kind, (
        f"{rule.rule}: no object for parameter <{name}>; add its collection to SEGMENT_KINDS "
        "in tests/core/routes.py (and create one in make_objects)"
    )
    columns = objects[kind]
    if name in columns:
        return columns[name]
    if name.endswith("id"):
        return columns["id"]
    numbers = [key for key in columns if key.endswith("_number")]
    assert name == "number" and numbers, f"{rule.rule}: which {kind} column is <{name}>?"
    return columns[numbers[0]]


def row_counts(app: Flask) -> dict[str, int]:
    """The number of rows in every table, to show that a refused request changed nothing."""
    with app.app_context():
        counts = {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
    return counts
