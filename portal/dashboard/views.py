"""The dashboard HQ users land on after signing in."""

import sqlalchemy as sa
from flask import Blueprint, render_template

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase, ChannelDataGroup, Register, Store

# Named "core" as it always was: templates link to `core.home`.
bp = Blueprint("core", __name__)


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def home():
    """Counts of the setup and the registers still missing an offline database."""

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
