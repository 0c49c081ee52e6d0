"""HTML pages for offline profiles and the editor of their offline scopes."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.core.web import attempt, paginate, show_form_error, submit
from portal.setup.hooks import PageExtras
from portal.setup.models import OfflineProfile, Register, Store
from portal.setup.offline_profiles import services
from portal.setup.offline_profiles.forms import (
    SETTINGS,
    ProfileForm,
    ScopesForm,
    edit_scope_rows,
    scope_rows,
)

bp = Blueprint("offline_profiles", __name__, url_prefix="/offline-profiles")

profile_page = PageExtras(
    "What an offline profile's page shows of the data its offline databases will receive "
    "(`offline_preview`, for the store chosen with `?store=`), filled in by distribution."
)

# Profile names are free text and may hold a '/', so the profile routes take a path.


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def index():
    """Offline profiles with how many stores and registers use each."""
    stmt = services.profiles_query(request.args.get("q")).options(
        selectinload(OfflineProfile.scopes)
    )
    page = paginate(stmt)
    ids = [profile.id for profile in page.items]
    stores = _counts(Store.offline_profile_id, ids)
    registers = _counts(Register.offline_profile_id, ids)
    return render_template(
        "offline_profiles/index.html", page=page, stores=stores, registers=registers
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def new():
    """Create an offline profile; it starts with the default offline scopes."""
    form = ProfileForm(data=_column_defaults())
    if profile := submit(form, lambda: services.create_profile(form.settings())):
        flash(
            f"Offline profile '{profile.name}' created with the default offline scopes.",
            "success",
        )
        return redirect(url_for(".profile", name=profile.name))
    return render_template("offline_profiles/form.html", form=form, profile=None)


@bp.get("/<path:name>")
@permission_required(Permission.READ_SETUP)
def profile(name: str):
    """All settings of a profile, its ordered scopes, and who uses it."""
    profile = services.get_profile(name)
    extras = profile_page.values(profile)
    return render_template(
        "offline_profiles/profile.html", profile=profile, usage=_usage(profile), **extras
    )


@bp.route("/<path:name>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def edit(name: str):
    """Change a profile's name and settings."""
    profile = services.get_profile(name)
    form = ProfileForm(obj=profile)
    if submit(form, lambda: services.update_profile(profile, form.settings())):
        flash(f"Offline profile '{profile.name}' saved.", "success")
        return redirect(url_for(".profile", name=profile.name))
    return render_template("offline_profiles/form.html", form=form, profile=profile)


@bp.route("/<path:name>/scopes", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def scopes(name: str):
    """Edit the ordered offline scopes of a profile; only Save replaces the stored ones."""
    profile = services.get_profile(name)
    unsaved = False
    if request.method == "GET":
        form = ScopesForm(data={"scopes": scope_rows(profile.scopes)})
    else:
        form = ScopesForm()
    if form.validate_on_submit():
        action = request.form.get("action", "save")
        if action == "save":
            try:
                services.update_profile(profile, {"scopes": form.scopes.data})
            except DomainError as error:
                form.show_scope_errors(error)
                show_form_error(form, error)
            else:
                db.session.commit()
                flash(f"Offline scopes of '{profile.name}' saved.", "success")
                return redirect(url_for(".profile", name=profile.name))
        else:
            rows = edit_scope_rows(form.scopes.data, action)
            form = ScopesForm(formdata=None, data={"scopes": rows})
        unsaved = True
    return render_template(
        "offline_profiles/scopes.html", form=form, profile=profile, unsaved=unsaved
    )


@bp.route("/<path:name>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def delete(name: str):
    """Confirm, then delete a profile that no store or register uses."""
    profile = services.get_profile(name)
    if request.method == "POST" and attempt(lambda: services.delete_profile(profile)):
        flash(f"Offline profile '{name}' deleted.", "success")
        return redirect(url_for(".index"))
    return render_template("offline_profiles/delete.html", profile=profile, usage=_usage(profile))


def _counts(column: sa.orm.InstrumentedAttribute, ids: list[int]) -> dict[int, int]:
    """How many rows point at each of `ids` through the foreign key `column`."""
    if not ids:
        return {}
    stmt = sa.select(column, sa.func.count()).where(column.in_(ids)).group_by(column)
    return {key: count for key, count in db.session.execute(stmt)}


def _usage(profile: OfflineProfile) -> dict[str, int]:
    """Stores and registers assigned the profile, and offline registers that follow it."""
    # A register without a profile of its own follows its store's default.
    follows = sa.or_(
        Register.offline_profile_id == profile.id,
        sa.and_(Register.offline_profile_id.is_(None), Store.offline_profile_id == profile.id),
    )
    offline_registers = sa.select(sa.func.count(Register.id)).join(Register.store)
    return {
        "stores": _counts(Store.offline_profile_id, [profile.id]).get(profile.id, 0),
        "registers": _counts(Register.offline_profile_id, [profile.id]).get(profile.id, 0),
        "offline_registers": db.session.scalar(
            offline_registers.where(follows, Register.support_offline)
        ),
    }


def _column_defaults() -> dict:
    """The settings a new profile gets when a field is left as it is."""
    columns = OfflineProfile.__table__.columns
    return {
        name: columns[name].default.arg
        for name in SETTINGS
        if name in columns and columns[name].default is not None
    }
