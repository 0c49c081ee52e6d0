"""HTML pages for channel data groups and the channel databases they hold."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.extensions import db
from portal.core.web import attempt, form_page, paginate, submit
from portal.setup.channels import services
from portal.setup.channels.forms import DatabaseFilterForm, DatabaseForm, GroupForm
from portal.setup.hooks import PageExtras
from portal.setup.models import DATABASE_KINDS, ChannelDatabase, ChannelDataGroup, Register, Store

# Stores listed on a group's page; the others are counted.
STORES_SHOWN = 25

bp = Blueprint("channels", __name__)

database_page = PageExtras(
    "What a channel database's page shows of its device (status, tokens, activation codes), "
    "filled in by the device API."
)

# Group names are free text and may hold a '/', so the group routes take a path.


@bp.get("/channel-data-groups/")
@permission_required(Permission.READ_SETUP)
def groups():
    """Channel data groups with how many databases and stores each has."""
    page = paginate(services.groups_query(request.args.get("q")))
    ids = [group.id for group in page.items]
    databases = _counts(ChannelDatabase.channel_data_group_id, ids)
    stores = _counts(Store.channel_data_group_id, ids)
    return render_template("channels/groups.html", page=page, databases=databases, stores=stores)


@bp.route("/channel-data-groups/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def group_new():
    """Create a channel data group."""
    form = GroupForm()
    return form_page(
        form,
        lambda: services.create_group(form.name.data, form.description.data),
        lambda group: (f"Channel data group '{group.name}' created.", _at(group)),
        "channels/group_form.html",
        group=None,
    )


@bp.get("/channel-data-groups/<path:name>")
@permission_required(Permission.READ_SETUP)
def group(name: str):
    """A group: its channel databases and the stores that use it as their group."""
    group = services.get_group(name)
    page = paginate(_with_links(services.databases_query(group=group.name)))
    # A chain's group serves thousands of stores: the first few, and how many in all.
    stores = db.session.scalars(
        sa.select(Store)
        .where(Store.channel_data_group_id == group.id)
        .order_by(Store.store_number)
        .limit(STORES_SHOWN)
    ).all()
    store_count = _counts(Store.channel_data_group_id, [group.id]).get(group.id, 0)
    return render_template(
        "channels/group.html", group=group, page=page, stores=stores, store_count=store_count
    )


@bp.route("/channel-data-groups/<path:name>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def group_edit(name: str):
    """Rename a group or change its description."""
    group = services.get_group(name)
    form = GroupForm(obj=group)
    changes = {"name": form.name.data, "description": form.description.data}
    return form_page(
        form,
        lambda: services.update_group(group, changes),
        lambda group: (f"Channel data group '{group.name}' saved.", _at(group)),
        "channels/group_form.html",
        group=group,
    )


@bp.route("/channel-data-groups/<path:name>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def group_delete(name: str):
    """Confirm, then delete a group that nothing uses any more."""
    group = services.get_group(name)
    if request.method == "POST" and attempt(lambda: services.delete_group(group)):
        flash(f"Channel data group '{name}' deleted.", "success")
        return redirect(url_for(".groups"))
    databases = _counts(ChannelDatabase.channel_data_group_id, [group.id]).get(group.id, 0)
    stores = _counts(Store.channel_data_group_id, [group.id]).get(group.id, 0)
    return render_template(
        "channels/group_delete.html", group=group, databases=databases, stores=stores
    )


@bp.get("/channel-databases/")
@permission_required(Permission.READ_SETUP)
def databases():
    """Channel databases, filtered by name, kind, group, store and active flag."""
    filters = DatabaseFilterForm(request.args)
    filters.group.choices = [SelectChoice("", "Any group"), *_group_choices()]
    kind = filters.kind.data if filters.kind.data in DATABASE_KINDS else None
    stmt = services.databases_query(
        q=request.args.get("q"),
        kind=kind,
        group=filters.group.data or None,
        store_number=(filters.store.data or "").strip().upper() or None,
    )
    if filters.active.data in ("yes", "no"):
        stmt = stmt.where(ChannelDatabase.active == (filters.active.data == "yes"))
    page = paginate(_with_links(stmt))
    return render_template("channels/databases.html", page=page, filters=filters)


@bp.get("/channel-databases/<int:database_id>")
@permission_required(Permission.READ_SETUP)
def database(database_id: int):
    """A channel database: its setup, its device's status and its device credentials."""
    database = services.get_database(database_id)
    register = database.register
    profile = register.effective_offline_profile if register is not None else None
    return render_template(
        "channels/database.html",
        database=database,
        profile=profile,
        **database_page.values(database),
    )


@bp.route("/channel-databases/<int:database_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def database_edit(database_id: int):
    """Move a channel database to another channel data group, or to none."""
    database = services.get_database(database_id)
    current = database.channel_data_group.name if database.channel_data_group else ""
    form = DatabaseForm(channel_data_group=current)
    form.channel_data_group.choices = [
        SelectChoice("", "No group (receives no distributions)"),
        *_group_choices(),
    ]
    changes = {"channel_data_group": form.channel_data_group.data or None}
    if submit(form, lambda: services.update_database(database, changes)):
        flash(f"Channel database '{database.name}' saved.", "success")
        return redirect(url_for(".database", database_id=database.id))
    return render_template("channels/database_form.html", form=form, database=database)


def _counts(column: sa.orm.InstrumentedAttribute, ids: list[int]) -> dict[int, int]:
    """How many rows point at each of `ids` through the foreign key `column`."""
    if not ids:
        return {}
    stmt = sa.select(column, sa.func.count()).where(column.in_(ids)).group_by(column)
    return {key: count for key, count in db.session.execute(stmt)}


def _group_choices() -> list[SelectChoice]:
    names = db.session.scalars(sa.select(ChannelDataGroup.name).order_by(ChannelDataGroup.name))
    return [SelectChoice(name) for name in names]


def _with_links(stmt: sa.Select) -> sa.Select:
    """Load what a database row links to in a few queries instead of one per row."""
    return stmt.options(
        selectinload(ChannelDatabase.store),
        selectinload(ChannelDatabase.register).selectinload(Register.store),
        selectinload(ChannelDatabase.channel_data_group),
    )


def _at(group: ChannelDataGroup) -> str:
    return url_for(".group", name=group.name)
