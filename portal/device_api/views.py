"""HQ pages of the devices: the fleet dashboard, activation codes and device tokens.

What setup's pages show of a device (a channel database's page, a register's page) is given
here and added to their hooks by the device API's `init_app`.
"""

import shlex
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import selectinload

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.web import paginate, submit
from portal.device_api import credentials, fleet
from portal.device_api.chart import fleet_chart
from portal.device_api.forms import ActivationCodeForm, RevokeTokenForm
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDatabase, Register, Store

bp = Blueprint("devices", __name__)

WINDOWS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}


@bp.get("/devices/")
@permission_required(Permission.READ_SETUP)
def dashboard():
    """Registers online, offline, behind and never activated: in all, per store, over time."""
    now = utcnow()
    q = request.args.get("q", "").strip()
    window = request.args.get("window") if request.args.get("window") in WINDOWS else "24h"
    page = paginate(fleet.stores_query(q, now).options(selectinload(Store.channel_database)))
    since = now - WINDOWS[window][1]
    silent, behind = fleet.thresholds()
    return render_template(
        "device_api/dashboard.html",
        page=page,
        q=q,
        fleets=fleet.store_fleets([store.id for store in page.items], now),
        totals=fleet.totals(now),
        chart=fleet_chart(fleet.samples_since(since), since, now),
        window=window,
        windows=WINDOWS,
        silent_minutes=int(silent.total_seconds() // 60),
        behind_minutes=int(behind.total_seconds() // 60),
    )


def channel_database_page(database: ChannelDatabase) -> dict:
    """A channel database page's device part: status, tokens and the activation code form."""
    return {
        "device": fleet.overview(database),
        "tokens": credentials.tokens_of(database),
        "code_form": ActivationCodeForm(),
        "code_hours": int(credentials.ACTIVATION_CODE_LIFETIME.total_seconds() // 3600),
    }


def register_page(register: Register) -> dict:
    """A register page's device part: the status of its offline database's device, if any."""
    database = register.offline_database
    return {"device": fleet.overview(database) if database is not None else None}


@bp.post("/channel-databases/<int:database_id>/activation-code")
@permission_required(Permission.CHANGE_SETUP)
def activation_code(database_id: int):
    """Issue a one-time activation code; it is shown on the answer to this request only."""
    database = channels.get_database(database_id)
    form = ActivationCodeForm()
    if not form.validate_on_submit():
        abort(400)
    issued = submit(form, lambda: credentials.issue_activation_code(database))
    if issued is None:
        return redirect(url_for("channels.database", database_id=database.id))
    activation, code = issued
    portal_url = request.url_root.rstrip("/")
    command = (
        f"portal-agent --url {shlex.quote(portal_url)} activate "
        f"--database {shlex.quote(database.name)} --code {code}"
    )
    page = render_template(
        "device_api/activation_code.html",
        database=database,
        activation=activation,
        code=code,
        command=command,
    )
    response = make_response(page)
    # The code must not survive in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route(
    "/channel-databases/<int:database_id>/device-tokens/<int:token_id>/revoke",
    methods=["GET", "POST"],
)
@permission_required(Permission.CHANGE_SETUP)
def token_revoke(database_id: int, token_id: int):
    """Revoke a device token, after a confirmation."""
    database = channels.get_database(database_id)
    token = credentials.get_token(database, token_id)
    back = url_for("channels.database", database_id=database.id)
    form = RevokeTokenForm()
    if form.validate_on_submit():
        credentials.revoke(token)
        db.session.commit()
        flash(f"Device token {token.prefix}… of {database.name} is revoked.", "success")
        return redirect(back)
    return render_template(
        "device_api/token_revoke.html", database=database, token=token, form=form, back=back
    )


@bp.app_template_filter("age")
def age(span: timedelta | None) -> str:
    """A duration as people say it: '2 d 3 h', '3 h 12 min', '4 min'."""
    if span is None:
        return "—"
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
