"""Roles and what each may do: the one table the routes, the pages and the README follow."""

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
    CHANGE_MASTERDATA = "change_masterdata"
    RUN_DISTRIBUTION = "run_distribution"
    CHANGE_SCHEDULES = "change_schedules"
    RETRY_BUILDS = "retry_builds"
    READ_TRANSACTIONS = "read_transactions"
    REVIEW_TRANSACTIONS = "review_transactions"
    MANAGE_USERS = "manage_users"
    READ_AUDIT = "read_audit"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.READ_SETUP: frozenset(Role),
    Permission.CHANGE_SETUP: frozenset({Role.ADMIN, Role.HQ}),
    Permission.CHANGE_MASTERDATA: frozenset({Role.ADMIN, Role.HQ}),
    # HQ staff run a schedule after changing what it carries (1080 after a tax change).
    Permission.RUN_DISTRIBUTION: frozenset({Role.ADMIN, Role.HQ, Role.SCHEDULER}),
    # What goes where and when, and repairing or cancelling sessions, is the schedulers' job.
    Permission.CHANGE_SCHEDULES: frozenset({Role.ADMIN, Role.SCHEDULER}),
    Permission.RETRY_BUILDS: frozenset({Role.ADMIN, Role.SCHEDULER}),
    # What registers sold is for auditors, and HQ staff who answer for the stores.
    Permission.READ_TRANSACTIONS: frozenset({Role.ADMIN, Role.HQ, Role.AUDITOR}),
    Permission.REVIEW_TRANSACTIONS: frozenset({Role.ADMIN, Role.AUDITOR}),
    Permission.MANAGE_USERS: frozenset({Role.ADMIN}),
    Permission.READ_AUDIT: frozenset({Role.ADMIN}),
}

# What each permission allows, in the words of the README's role table.
DESCRIPTIONS: dict[Permission, str] = {
    Permission.READ_SETUP: "read the setup, the master data, the schedules and their runs",
    Permission.CHANGE_SETUP: (
        "change the setup: stores, registers, Support offline, channel databases and groups, "
        "offline profiles and scopes; issue activation codes"
    ),
    Permission.CHANGE_MASTERDATA: "change the master data (pages, CSV import, API)",
    Permission.RUN_DISTRIBUTION: (
        "run distribution schedules on demand, with full data sync or a full package for one "
        "database"
    ),
    Permission.CHANGE_SCHEDULES: (
        "create, edit and delete distribution schedules; edit scheduler jobs and parameters; "
        "manage alert webhooks"
    ),
    Permission.RETRY_BUILDS: (
        "retry or cancel download sessions (one, a selection, a run's or a database's pending ones)"
    ),
    Permission.READ_TRANSACTIONS: "read uploaded transactions, anomalies and upload sessions",
    Permission.REVIEW_TRANSACTIONS: "review transactions and anomalies",
    Permission.MANAGE_USERS: "manage users and revoke their API tokens",
    Permission.READ_AUDIT: "read the audit trail",
}


def can(role: str | None, permission: Permission) -> bool:
    """Whether a user with this role holds the permission."""
    return role in GRANTS[permission]


def roles_table() -> str:
    """The role table in Markdown: one row per permission, one column per role."""
    roles = list(Role)
    lines = [
        "| may | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in Permission:
        cells = " | ".join("yes" if role in GRANTS[permission] else "no" for role in roles)
        lines.append(f"| {DESCRIPTIONS[permission]} | {cells} |")
    return "\n".join(lines) + "\n"


def with_roles_table(readme: str) -> str:
    """The README's text with the table under its `## Roles` heading replaced by `roles_table()`."""
    head, heading, rest = readme.partition("\n## Roles\n")
    if not heading:
        raise ValueError("The README has no '## Roles' section.")
    lines = rest.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return head + heading + "".join(lines[:start]) + roles_table() + "".join(lines[end:])
