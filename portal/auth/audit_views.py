"""The audit trail browser: who changed what, when and through which channel.

The trail itself (`portal.audit`) sits below auth, which records user changes in it; its page is
an admin page guarded by auth's permissions, so it lives here.
"""

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request

from portal.audit.models import AuditEntry
from portal.audit.services import entries_query
from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.extensions import db
from portal.core.web import id_arg, paginate

bp = Blueprint("audit", __name__, url_prefix="/audit")

SOURCES = ("web", "api", "cli", "system")


@bp.get("/")
@permission_required(Permission.READ_AUDIT)
def index():
    """Entries newest first, filtered by entity type, source, operation (`?operation=ID`, the
    entries of one bulk change) and a search on key or actor."""
    entity_type = request.args.get("entity_type") or None
    source = request.args.get("source") or None
    operation = id_arg("operation")
    stmt = entries_query(entity_type, (request.args.get("q") or "").strip() or None)
    if source:
        stmt = stmt.where(AuditEntry.source == source)
    if operation:
        stmt = stmt.where(AuditEntry.operation_id == operation)
    entity_types = db.session.scalars(
        sa.select(AuditEntry.entity_type).distinct().order_by(AuditEntry.entity_type)
    )
    return render_template(
        "audit/index.html",
        page=paginate(stmt),
        entity_types=list(entity_types),
        sources=SOURCES,
        entity_type=entity_type,
        source=source,
        operation=operation,
    )


@bp.get("/<int:entry_id>")
@permission_required(Permission.READ_AUDIT)
def entry(entry_id: int):
    """One entry with its before and after values side by side."""
    found = db.session.get(AuditEntry, entry_id)
    if found is None:
        abort(404, f"Audit entry #{entry_id} does not exist.")
    before, after = found.before or {}, found.after or {}
    fields = sorted(set(before) | set(after))
    return render_template("audit/entry.html", entry=found, fields=fields)
