"""A bulk change of registers: which would change, which are refused and why, and the change.

Every change goes through the register services a single change takes (`offline_refusal` for
the checks, `update_registers` and `switch_support_offline` for the writes), so a bulk change and
a single one cannot part. The whole selection is read in one query and written a statement at a
time: no register is loaded as an object.
"""

import sqlalchemy as sa

from portal.core import sql
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.setup.models import ChannelDatabase, Register
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services
from portal.setup.registers.selection import filtered_registers

ENTITY = "register"
KEY = "register_numbers"
SETTABLE = ("support_offline", "offline_profile", "active")


def select_ids(filters: dict) -> list[int]:
    """The ids of the registers matching the filters, by number."""
    stmt = filtered_registers(filters).with_only_columns(Register.id)
    return list(db.session.scalars(stmt))


def ids_by_key(numbers: list[str]) -> dict[str, int]:
    """The ids of the registers with these numbers (as given), by number; unknown ones left out."""
    return sql.ids_by_key(Register.register_number, Register.id, numbers)


def resolve_change(change: dict) -> dict:
    """The change checked once for the whole selection: known fields, an existing profile."""
    unknown = sorted(set(change) - set(SETTABLE))
    if unknown:
        fields = {f"set.{name}": "Not a field a bulk change sets." for name in unknown}
        raise ValidationFailed(
            f"A bulk change of registers sets only {', '.join(SETTABLE)}.", fields
        )
    if not change:
        raise ValidationFailed(
            "Name at least one field to set.", {"set": f"One of {', '.join(SETTABLE)}."}
        )
    resolved = dict(change)
    if "offline_profile" in change:
        resolved["offline_profile"] = offline_profiles.resolve_profile(
            change["offline_profile"], "set.offline_profile"
        )
    return resolved


def plan(ids: list[int], change: dict) -> tuple[list[int], int, list[tuple[str, str]]]:
    """(ids that would change, how many would stay as they are, refused: (number, reason)) for
    the resolved change; registers deleted meanwhile are in none of them."""
    changed, unchanged, refusals = [], 0, []
    profile = _id(change["offline_profile"]) if "offline_profile" in change else services.KEEP
    for state in services.offline_states(ids):
        if not _differs(state, change):
            unchanged += 1
        elif change.get("support_offline", state.support_offline) and (
            refusal := services.offline_refusal(state, profile)
        ):
            refusals.append((state.register_number, refusal.message))
        else:
            changed.append(state.id)
    return changed, unchanged, refusals


def apply(ids: list[int], change: dict) -> None:
    """Make the change on registers `plan` found would change and did not refuse."""
    values = {}
    if "offline_profile" in change:
        values["offline_profile_id"] = _id(change["offline_profile"])
    if "active" in change:
        values["active"] = bool(change["active"])
    if values:
        services.update_registers(ids, values)
    if "support_offline" in change:
        services.switch_support_offline(ids, bool(change["support_offline"]))


def activated_among(ids: list[int], change: dict) -> int:
    """How many of these registers lose Support offline while their device has activated."""
    if change.get("support_offline") is not False:
        return 0
    return sum(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ChannelDatabase)
            .join(Register, Register.id == ChannelDatabase.register_id)
            .where(sql.among(Register.id, part))
            .where(Register.support_offline.is_(True))
            .where(ChannelDatabase.activated_at.is_not(None))
        )
        for part in sql.batches(ids)
    )


def _differs(state: services.OfflineState, change: dict) -> bool:
    if "offline_profile" in change and state.offline_profile_id != _id(change["offline_profile"]):
        return True
    if "active" in change and state.active != bool(change["active"]):
        return True
    return "support_offline" in change and state.support_offline != bool(change["support_offline"])


def _id(record) -> int | None:
    return None if record is None else record.id
