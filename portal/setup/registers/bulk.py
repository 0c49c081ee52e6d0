"""A bulk change of registers: which would change, which are refused and why, and the change.

Every change goes through the register services (`update_register`, and for Support offline
`switch_support_offline`, the rule `set_support_offline` applies to one register), so a bulk
change and a single one cannot part.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.core import sql
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.sql import among
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


def load(ids: list[int]) -> list[Register]:
    """The registers with these ids, with what the rules read of them loaded together."""
    return list(
        db.session.scalars(
            sa.select(Register)
            .where(among(Register.id, ids))
            .order_by(Register.register_number)
            .options(selectinload(Register.store), selectinload(Register.offline_database))
        )
    )


def key_of(register: Register) -> str:
    """How refusals name a register."""
    return register.register_number


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


def plan(registers: list[Register], change: dict) -> tuple[list, list, dict[int, str]]:
    """(would change, would stay as they are, refused: reason by id) for the resolved change."""
    changed, unchanged = [], []
    for register in registers:
        (changed if _differs(register, change) else unchanged).append(register)
    refusals = {}
    for register in changed:
        if reason := _offline_refusal(register, change):
            refusals[register.id] = reason
    if change.get("support_offline"):
        switching = [r for r in changed if not r.support_offline and r.id not in refusals]
        refusals.update(services.support_offline_refusals(switching, True))
    return [r for r in changed if r.id not in refusals], unchanged, refusals


def apply(registers: list[Register], change: dict) -> None:
    """Make the change on registers `plan` found would change and did not refuse."""
    other = {k: v for k, v in change.items() if k != "support_offline"}
    if "offline_profile" in other:
        profile = other["offline_profile"]
        other["offline_profile"] = profile.name if profile else None
    if other:
        for register in registers:
            services.update_register(register, other)
    if "support_offline" in change:
        enabled = bool(change["support_offline"])
        switching = [r for r in registers if r.support_offline != enabled]
        services.switch_support_offline(switching, enabled)


def activated_among(ids: list[int], change: dict) -> int:
    """How many of these registers lose Support offline while their device has activated."""
    if change.get("support_offline") is not False:
        return 0
    count = 0
    for start in range(0, len(ids), 500):
        count += db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ChannelDatabase)
            .join(Register, Register.id == ChannelDatabase.register_id)
            .where(Register.id.in_(ids[start : start + 500]))
            .where(Register.support_offline.is_(True))
            .where(ChannelDatabase.activated_at.is_not(None))
        )
    return count


def _differs(register: Register, change: dict) -> bool:
    if "offline_profile" in change and register.offline_profile_id != _id(
        change["offline_profile"]
    ):
        return True
    if "active" in change and register.active != bool(change["active"]):
        return True
    return "support_offline" in change and register.support_offline != bool(
        change["support_offline"]
    )


def _offline_refusal(register: Register, change: dict) -> str | None:
    """Why the register, once changed, could not keep or get Support offline (None: it can)."""
    if not change.get("support_offline", register.support_offline):
        return None
    store = register.store
    if store.channel_data_group_id is None:
        return (
            f"Store '{store.store_number}' has no channel data group; assign one to the store "
            "before enabling Support offline."
        )
    if "offline_profile" in change:
        profile_id = _id(change["offline_profile"])
    else:
        profile_id = register.offline_profile_id
    if profile_id is None and store.offline_profile_id is None:
        return (
            f"Register '{register.register_number}' has no offline profile and its store has no "
            "default one; choose an offline profile first."
        )
    return None


def _id(record) -> int | None:
    # Ids, not the related rows: a chunk's profiles and groups are never loaded.
    return None if record is None else record.id
