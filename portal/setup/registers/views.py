"""Register pages: list, detail with the Support offline switch, create, edit and delete."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.auth.guards import permission_required
from portal.auth.roles import Permission, can
from portal.core.extensions import db
from portal.core.web import attempt, filter_fields, form_page, paginate, query_filters
from portal.setup.channels import services as channels
from portal.setup.hooks import PageExtras
from portal.setup.models import Register, Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services
from portal.setup.registers.forms import NewRegisterForm, RegisterForm, SupportOfflineForm
from portal.setup.registers.selection import FILTERS, filtered_registers

bp = Blueprint("registers", __name__, url_prefix="/registers")

detail_page = PageExtras(
    "What a register's page shows of its offline database's device (`device`), filled in by "
    "the device API."
)


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def index():
    """Registers by number, filtered (store, group, profile, Support offline, activated, active,
    search); with the right to change the setup, a bulk change of all that match or the ticked."""
    filters = query_filters(FILTERS, request.args)
    stmt = filtered_registers(filters).options(
        selectinload(Register.store).selectinload(Store.offline_profile),
        selectinload(Register.offline_profile),
        selectinload(Register.offline_database),
    )
    matching = None
    if can(current_user.role, Permission.CHANGE_SETUP):
        counted = filtered_registers(filters).with_only_columns(Register.id).order_by(None)
        matching = db.session.scalar(sa.select(sa.func.count()).select_from(counted.subquery()))
    return render_template(
        "registers/index.html",
        page=paginate(stmt),
        q=filters.get("q", ""),
        store=(filters.get("store") or "").upper(),
        filters=filters,
        hidden=filter_fields(filters, "f_"),
        matching=matching,
        groups=db.session.scalars(channels.groups_query()).all(),
        profiles=db.session.scalars(offline_profiles.profiles_query()).all(),
    )


@bp.get("/<register_number>")
@permission_required(Permission.READ_SETUP)
def detail(register_number: str):
    """A register, its offline database, its device's status and the Support offline switch."""
    register = services.get_register(register_number)
    toggle = SupportOfflineForm(enabled="off" if register.support_offline else "on")
    return render_template(
        "registers/detail.html", register=register, toggle=toggle, **detail_page.values(register)
    )


@bp.post("/<register_number>/support-offline")
@permission_required(Permission.CHANGE_SETUP)
def support_offline(register_number: str):
    """Turn Support offline on (creating or reactivating the offline database) or off."""
    register = services.get_register(register_number)
    number = register.register_number
    form = SupportOfflineForm()
    if not form.validate_on_submit():
        abort(400)
    if attempt(lambda: services.set_support_offline(register, form.enabled.data == "on")):
        flash(_switched_message(register), "success")
    return redirect(url_for(".detail", register_number=number))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def create():
    """Create a register in a store (`?store=NUMBER` preselects it)."""
    form = NewRegisterForm(store=request.args.get("store", "").strip().upper())
    return form_page(
        form,
        lambda: services.create_register(form.to_data()),
        lambda register: (f"Register {register.register_number} created.", _at(register)),
        "registers/form.html",
        register=None,
    )


@bp.route("/<register_number>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def edit(register_number: str):
    """Change a register's offline profile, active flag or Support offline."""
    register = services.get_register(register_number)
    form = RegisterForm(data=RegisterForm.initial(register))
    return form_page(
        form,
        lambda: services.update_register(register, form.to_data()),
        lambda register: (f"Register {register.register_number} saved.", _at(register)),
        "registers/form.html",
        register=register,
    )


@bp.route("/<register_number>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def delete(register_number: str):
    """Confirm, then delete a register that never had an offline database."""
    register = services.get_register(register_number)
    if request.method == "GET":
        return render_template("registers/delete.html", register=register)
    number, store_number = register.register_number, register.store.store_number
    if not attempt(lambda: services.delete_register(register)):
        return redirect(url_for(".detail", register_number=number))
    flash(f"Register {number} deleted.", "success")
    return redirect(url_for("stores.detail", store_number=store_number))


def _switched_message(register: Register) -> str:
    number, database = register.register_number, register.offline_database
    if not register.support_offline:
        kept = f"; offline database {database.name} is deactivated and kept" if database else ""
        return f"Support offline is off for {number}{kept}."
    if database is None or not database.active:
        return (
            f"Support offline is on for {number}; its offline database becomes active "
            "once the register is active."
        )
    group = database.channel_data_group.name if database.channel_data_group else "no group"
    return (
        f"Support offline is on for {number}; offline database {database.name} is active "
        f"in channel data group {group}."
    )


def _at(register: Register) -> str:
    return url_for(".detail", register_number=register.register_number)
