"""The dashboard HQ users land on after signing in."""

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from portal.auth.guards import permission_required
from portal.auth.roles import Permission, Role
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.web import paginate
from portal.dashboard import worklist as work
from portal.distribution import alerts
from portal.setup.models import OFFLINE, ChannelDatabase, ChannelDataGroup, Register, Store

# Named "core" as it always was: templates link to `core.home`.
bp = Blueprint("core", __name__)
NOTIFICATIONS_SHOWN = 5


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def home():
    """Counts of the setup and the registers still missing an offline database.

    A scheduler lands on their worklist instead: what failed or is stuck comes first.
    """
    if current_user.role == Role.SCHEDULER:
        return redirect(url_for(".worklist"))

    def count(stmt):
        return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))

    figures = {
        "stores": count(sa.select(Store.id)),
        "registers": count(sa.select(Register.id)),
        "offline_registers": count(sa.select(Register.id).where(Register.support_offline)),
        "offline_databases": count(
            sa.select(ChannelDatabase.id).where(
                ChannelDatabase.kind == OFFLINE, ChannelDatabase.active
            )
        ),
        "groups": count(sa.select(ChannelDataGroup.id)),
        "ungrouped_stores": count(sa.select(Store.id).where(Store.channel_data_group_id.is_(None))),
    }
    return render_template("core/home.html", figures=figures)


@bp.get("/worklist/")
@permission_required(Permission.READ_SETUP)
def worklist():
    """Failed and stuck distribution work, one section at a time, each row with its action."""
    limits = work.Thresholds.from_settings()
    section = request.args.get("show")
    figures = work.figures(limits)
    if section not in work.SECTIONS:
        # The first section with something in it, failed sessions when all are empty.
        section = next((name for name in work.SECTIONS if figures[name]), work.SESSIONS)
    cause = request.args.get("cause") or None
    context = {}
    if section == work.SESSIONS:
        page = paginate(work.failed_sessions(cause))
        context["causes"] = work.failed_causes()
    elif section == work.RUNS:
        page = paginate(work.runs_needing_attention())
    elif section == work.BEHIND:
        page = paginate(work.behind_databases(limits))
        context["waiting"] = work.waiting_of([database.id for database in page.items])
    else:
        page = paginate(work.silent_devices(limits))
        context["contacts"] = work.last_contacts(page.items)
    return render_template(
        "dashboard/worklist.html",
        section=section,
        cause=cause,
        figures=figures,
        limits=limits,
        page=page,
        now=utcnow(),
        # A handful: the notifications page lists them all.
        notifications=alerts.open_notifications(limit=NOTIFICATIONS_SHOWN),
        **context,
    )
