"""Rules for offline profiles and their offline scopes."""

from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.search import search
from portal.core.validation import FieldErrors, check_range, normalise_name
from portal.masterdata.jobs import (
    BIDIRECTIONAL,
    DIRECTIONS,
    KNOWN_TABLES,
    STANDARD_JOBS,
    UPLOAD,
)
from portal.masterdata.references import unknown
from portal.masterdata.versioning import transaction_version
from portal.setup.models import OfflineProfile, OfflineScope, Register, Store

# (field, low, high): the time-out is seconds, the intervals minutes.
LIMITS = {
    "offline_timeout_s": (1, 600),
    "reconnect_interval_min": (1, 1440),
    "health_check_interval_min": (1, 1440),
}
FLAGS = ("pause_sync", "allow_manual_switch_before_sign_in", "advanced_offline_switching")
# The auditors' thresholds (see portal.auditor.rules); empty means no threshold.
MAX_OFFLINE_MINUTES = (1, 525_600)
MAX_OFFLINE_TOTAL = (Decimal("0.01"), Decimal("1000000000"))
THRESHOLDS = ("max_offline_minutes", "max_offline_total")
# What a register uploads (job P-0001's tables); a scope uploading them names the sales table.
UPLOAD_TABLES = tuple(t for job in STANDARD_JOBS if job.direction == UPLOAD for t in job.tables)
SALES_TABLE = "sales_transaction"
# The directions a register follows; bidirectional is known to the jobs, refused in a scope.
SCOPE_DIRECTIONS = tuple(d for d in DIRECTIONS if d != BIDIRECTIONAL)


def get_profile(name: str) -> OfflineProfile:
    """The offline profile with this name, or NotFound."""
    profile = db.session.scalar(sa.select(OfflineProfile).filter_by(name=name))
    if profile is None:
        raise NotFound(f"Offline profile '{name}' does not exist.")
    return profile


def resolve_profile(name: str | None, field: str = "offline_profile") -> OfflineProfile | None:
    """Turn a profile name given as input into the profile (None stays None), or a field error."""
    if name is None or name == "":
        return None
    profile = db.session.scalar(sa.select(OfflineProfile).filter_by(name=name))
    if profile is None:
        raise ValidationFailed(
            f"Offline profile '{name}' does not exist.",
            {field: unknown("offline profile", "offline profiles", name)},
        )
    return profile


def profiles_query(q: str | None = None) -> sa.Select:
    """Offline profiles by name, optionally matching a search."""
    stmt = sa.select(OfflineProfile).order_by(OfflineProfile.name)
    stmt = search(stmt, q, OfflineProfile.name)
    return stmt


def default_scopes() -> list[dict]:
    """One scope per standard job, mirroring its tables (the tax scope holds job 1080's)."""
    return [
        {"name": job.name, "direction": job.direction, "tables": list(job.tables)}
        for job in STANDARD_JOBS
    ]


def create_profile(data: dict) -> OfflineProfile:
    """Create an offline profile; without scopes given it gets the default scopes."""
    name = normalise_name(data.get("name"), "name", 60)
    _check_name_free(name)
    profile = OfflineProfile(name=name)
    values = {key: data[key] for key in (*LIMITS, *FLAGS, *THRESHOLDS) if data.get(key) is not None}
    scopes = data.get("scopes") or default_scopes()
    _apply(profile, values, scopes)
    db.session.add(profile)
    db.session.flush()
    audit.record("create", "offline_profile", profile.name, after=_snapshot(profile))
    return profile


def update_profile(profile: OfflineProfile, data: dict) -> OfflineProfile:
    """Change a profile's settings; given scopes replace the current ones in the given order."""
    before = _snapshot(profile)
    if "name" in data:
        name = normalise_name(data["name"], "name", 60)
        if name != profile.name:
            _check_name_free(name)
        profile.name = name
    values = {key: data[key] for key in (*LIMITS, *FLAGS, *THRESHOLDS) if key in data}
    _apply(profile, values, data.get("scopes"))
    db.session.flush()
    audit.record("update", "offline_profile", profile.name, before, _snapshot(profile))
    return profile


def delete_profile(profile: OfflineProfile) -> None:
    """Delete a profile that no store or register uses."""
    registers = db.session.scalar(
        sa.select(sa.func.count()).where(Register.offline_profile_id == profile.id)
    )
    stores = db.session.scalar(
        sa.select(sa.func.count()).where(Store.offline_profile_id == profile.id)
    )
    if registers or stores:
        raise Conflict(
            f"Offline profile '{profile.name}' is used by {registers} register(s) and "
            f"{stores} store(s); assign them another profile first."
        )
    audit.record("delete", "offline_profile", profile.name, before=_snapshot(profile))
    transaction_version(db.session)
    db.session.delete(profile)
    db.session.flush()


def _apply(profile: OfflineProfile, values: dict, scopes: list[dict] | None) -> None:
    # Job 1200 sends the profiles whole; a new change version gives the next run new content.
    transaction_version(db.session)
    errors = FieldErrors()
    for field, (low, high) in LIMITS.items():
        if field in values:
            with errors.check():
                setattr(profile, field, check_range(values[field], field, low, high))
    for flag in FLAGS:
        if flag in values:
            setattr(profile, flag, bool(values[flag]))
    if "max_offline_minutes" in values:
        with errors.check():
            minutes = values["max_offline_minutes"]
            if minutes is not None:
                minutes = check_range(minutes, "max_offline_minutes", *MAX_OFFLINE_MINUTES)
            profile.max_offline_minutes = minutes
    if "max_offline_total" in values:
        with errors.check():
            profile.max_offline_total = _check_total(values["max_offline_total"])
    if scopes is not None:
        with errors.check():
            checked = [_check_scope(scope, index) for index, scope in enumerate(scopes)]
            _check_scope_names_unique(checked)
            if profile.id is not None:
                # Remove the old rows first: the unique (profile, name) must not see both.
                profile.scopes.clear()
                db.session.flush()
            profile.scopes = [
                OfflineScope(position=index, **scope) for index, scope in enumerate(checked)
            ]
    errors.raise_if_any()


def _check_total(value) -> Decimal | None:
    if value is None or value == "":
        return None
    low, high = MAX_OFFLINE_TOTAL
    try:
        total = Decimal(str(value))
    except InvalidOperation:
        total = None
    if total is None or not total.is_finite() or not low <= total <= high:
        raise ValidationFailed(
            "The offline total threshold is not valid.",
            {"max_offline_total": f"An amount between {low} and {high:,}."},
        )
    if total != total.quantize(Decimal("0.01")):
        raise ValidationFailed(
            "The offline total threshold is not valid.",
            {"max_offline_total": "At most 2 decimal places."},
        )
    return total


def _check_scope(scope: dict, index: int) -> dict:
    field = f"scopes.{index}"
    name = normalise_name(scope.get("name"), f"{field}.name", 60)
    direction = scope.get("direction") or "download"
    if direction not in DIRECTIONS:
        raise ValidationFailed(
            f"Scope '{name}' has an unknown direction '{direction}'.",
            {f"{field}.direction": f"One of {', '.join(DIRECTIONS)}."},
        )
    tables = list(dict.fromkeys(scope.get("tables") or []))
    if not tables:
        raise ValidationFailed(
            f"Scope '{name}' lists no tables.", {f"{field}.tables": "At least one table."}
        )
    unknown = [table for table in tables if table not in KNOWN_TABLES]
    if unknown:
        raise ValidationFailed(
            f"Scope '{name}' lists unknown tables: {', '.join(unknown)}.",
            {f"{field}.tables": "Only tables of the scheduler jobs."},
        )
    _check_direction(name, field, direction, tables)
    return {"name": name, "direction": direction, "tables": tables}


def _check_direction(name: str, field: str, direction: str, tables: list[str]) -> None:
    """Refuse a scope no register would act on: a setting must never be stored and ignored.

    Master data goes down to registers; what a register sends up is its sales, whole.
    """
    sales = ", ".join(UPLOAD_TABLES)
    if direction == BIDIRECTIONAL:
        raise ValidationFailed(
            f"Scope '{name}' cannot be bidirectional: registers receive master data and send "
            "only their sales.",
            {f"{field}.direction": f"Download for master data, upload for the sales ({sales})."},
        )
    if direction == UPLOAD:
        others = [table for table in tables if table not in UPLOAD_TABLES]
        if others:
            raise ValidationFailed(
                f"Scope '{name}' uploads {', '.join(others)}, which registers never send.",
                {f"{field}.tables": f"A register uploads only its sales: {sales}."},
            )
        if SALES_TABLE not in tables:
            raise ValidationFailed(
                f"Scope '{name}' uploads sales lines or payments without their sales.",
                {f"{field}.tables": f"Lines and payments go up with their sale: add {SALES_TABLE}"},
            )
    elif any(table in UPLOAD_TABLES for table in tables):
        raise ValidationFailed(
            f"Scope '{name}' downloads sales, which HQ never sends to registers.",
            {f"{field}.tables": f"The sales ({sales}) belong in an upload scope."},
        )


def _check_scope_names_unique(scopes: list[dict]) -> None:
    names = [scope["name"] for scope in scopes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValidationFailed(
            f"Scope names must be unique within a profile: {', '.join(duplicates)}.",
            {"scopes": "Duplicate scope names."},
        )


def _check_name_free(name: str) -> None:
    if db.session.scalar(sa.select(OfflineProfile.id).filter_by(name=name)) is not None:
        raise Conflict(
            f"An offline profile named '{name}' already exists.", {"name": "Already taken."}
        )


def _snapshot(profile: OfflineProfile) -> dict:
    values = audit.snapshot(profile)
    values["scopes"] = [
        {"name": s.name, "direction": s.direction, "tables": list(s.tables)} for s in profile.scopes
    ]
    return values
