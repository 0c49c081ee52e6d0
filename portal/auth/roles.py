"""Roles and what each may do."""

from enum import StrEnum


class Role(StrEnum):
    """The four roles of HQ Portal."""

    ADMIN = "admin"
    HQ = "hq"
    SCHEDULER = "scheduler"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """Things a route may require."""

    READ_SETUP = "read_setup"
    CHANGE_SETUP = "change_setup"
    MANAGE_USERS = "manage_users"
    READ_AUDIT = "read_audit"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.READ_SETUP: frozenset(Role),
    Permission.CHANGE_SETUP: frozenset({Role.ADMIN, Role.HQ}),
    Permission.MANAGE_USERS: frozenset({Role.ADMIN}),
    Permission.READ_AUDIT: frozenset({Role.ADMIN}),
}


def can(role: str | None, permission: Permission) -> bool:
    """Whether a user with this role holds the permission."""
    return role in GRANTS[permission]
