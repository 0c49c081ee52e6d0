"""Store pages: list, detail, create, edit and delete."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.auth.guards import permission_required
from portal.auth.roles import Permission, can
from portal.core.extensions import db
from portal.core.web import attempt, filter_fields, form_page, paginate, query_filters
from portal.setup.channels import services as channels
from portal.setup.models import Register, Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.stores import services
from portal.setup.stores.forms import NewStoreForm, StoreForm
from portal.setup.stores.selection import FILTERS, filtered_stores

bp = Blueprint("stores", __name__, url_prefix="/stores")


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def index():
    """Stores by number, filtered by group, default profile and a search of number or name;
    with the right to change the setup, a bulk change of all that match or the ticked."""
    filters = query_filters(FILTERS, request.args)
    stmt = filtered_stores(filters).options(
        selectinload(Store.channel_data_group), selectinload(Store.offline_profile)
    )
    page = paginate(stmt)
    counts = _register_counts([store.id for store in page.items])
    matching = None
    if can(current_user.role, Permission.CHANGE_SETUP):
        counted = filtered_stores(filters).with_only_columns(Store.id).order_by(None)
        matching = db.session.scalar(sa.select(sa.func.count()).select_from(counted.subquery()))
    return render_template(
        "stores/index.html",
        page=page,
        q=filters.get("q", ""),
        register_counts=counts,
        filters=filters,
        hidden=filter_fields(filters, "f_"),
        matching=matching,
        groups=db.session.scalars(channels.groups_query()).all(),
        profiles=db.session.scalars(offline_profiles.profiles_query()).all(),
    )


@bp.get("/<store_number>")
@permission_required(Permission.READ_SETUP)
def detail(store_number: str):
    """A store's settings, its channel database and its registers."""
    store = services.get_store(store_number)
    store_registers = db.session.scalars(
        sa.select(Register)
        .where(Register.store_id == store.id)
        .order_by(Register.register_number)
        .options(selectinload(Register.offline_database), selectinload(Register.offline_profile))
    ).all()
    return render_template("stores/detail.html", store=store, registers=store_registers)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def create():
    """Create a store, which also creates its channel database."""
    form = NewStoreForm()
    return form_page(
        form,
        lambda: services.create_store(form.to_data()),
        lambda store: (
            f"Store {store.store_number} created with its channel database.",
            _at(store),
        ),
        "stores/form.html",
        store=None,
    )


@bp.route("/<store_number>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def edit(store_number: str):
    """Change a store's settings; its number stays."""
    store = services.get_store(store_number)
    form = StoreForm(data=StoreForm.initial(store))
    return form_page(
        form,
        lambda: services.update_store(store, form.to_data()),
        lambda store: (f"Store {store.store_number} saved.", _at(store)),
        "stores/form.html",
        store=store,
    )


@bp.route("/<store_number>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def delete(store_number: str):
    """Confirm, then delete a store and its channel database."""
    store = services.get_store(store_number)
    if request.method == "GET":
        return render_template("stores/delete.html", store=store)
    number = store.store_number
    if not attempt(lambda: services.delete_store(store)):
        return redirect(url_for(".detail", store_number=number))
    flash(f"Store {number} and its channel database deleted.", "success")
    return redirect(url_for(".index"))


def _at(store: Store) -> str:
    return url_for(".detail", store_number=store.store_number)


def _register_counts(store_ids: list[int]) -> dict[int, int]:
    # One grouped query for the whole page instead of loading every store's registers.
    rows = db.session.execute(
        sa.select(Register.store_id, sa.func.count())
        .where(Register.store_id.in_(store_ids))
        .group_by(Register.store_id)
    )
    return {store_id: count for store_id, count in rows}
