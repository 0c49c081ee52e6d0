"""`GET /metrics`: the figures in Prometheus' text format, for a token or an allowed address.

`METRICS_ALLOW` lists the networks (CIDRs) that may scrape without a token; outside production
it defaults to the loopback, in production to none. `METRICS_TOKEN` lets any address in with
`Authorization: Bearer <token>`. With neither matching the answer is 403 (401 when a token is
configured and missing or wrong), so the figures never leak by default.
"""

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from portal.core.metrics import process_metrics
from portal.ops.gauges import DatabaseCollector

bp = Blueprint("ops", __name__)


@bp.get("/metrics")
def metrics():
    """The process's counters and the database's figures, for Prometheus."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    body = process_metrics() + generate_latest(registry)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _refusal() -> Response | None:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if _allowed_address(request.remote_addr):
        return None
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip(), token):
        return None
    if token:
        return Response(
            "Send METRICS_TOKEN as 'Authorization: Bearer <token>'.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    return Response("This address may not read the metrics.\n", 403, mimetype="text/plain")


def _allowed_address(address: str | None) -> bool:
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(net) for net in current_app.config["METRICS_ALLOW"])
