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
    RUN_DISTRIBUTION = "run_distribution"
    CHANGE_MASTERDATA = "change_masterdata"
    READ_TRANSACTIONS = "read_transactions"
    REVIEW_TRANSACTIONS = "review_transactions"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.READ_SETUP: frozenset(Role),
    Permission.CHANGE_SETUP: frozenset({Role.ADMIN, Role.HQ}),
    Permission.MANAGE_USERS: frozenset({Role.ADMIN}),
    Permission.READ_AUDIT: frozenset({Role.ADMIN}),
    # Schedulers create, edit and run distribution schedules; HQ staff may too.
    Permission.RUN_DISTRIBUTION: frozenset({Role.ADMIN, Role.HQ, Role.SCHEDULER}),
    Permission.CHANGE_MASTERDATA: frozenset({Role.ADMIN, Role.HQ}),
    # What registers sold is for auditors, and HQ staff who answer for the stores.
    Permission.READ_TRANSACTIONS: frozenset({Role.ADMIN, Role.HQ, Role.AUDITOR}),
    Permission.REVIEW_TRANSACTIONS: frozenset({Role.ADMIN, Role.AUDITOR}),
}


def can(role: str | None, permission: Permission) -> bool:
    """Whether a user with this role holds the permission."""
    return role in GRANTS[permission]
