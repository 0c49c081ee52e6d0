"""The standard scheduler job catalogue (see DOMAIN.md): job number, name, direction, tables.

A master data job carries the tables the registry gives that job number.
"""

from typing import NamedTuple

from portal.masterdata import registry

DOWNLOAD = "download"
UPLOAD = "upload"
BIDIRECTIONAL = "bidirectional"
DIRECTIONS = (DOWNLOAD, UPLOAD, BIDIRECTIONAL)


class StandardJob(NamedTuple):
    """One job of the standard catalogue."""

    job_number: str
    name: str
    direction: str
    tables: tuple[str, ...]


# Setup a master data job sends ahead of its master data tables (portal.distribution.tables).
SETUP_TABLES = {"1090": ("register",)}


def _download(job_number: str, name: str) -> StandardJob:
    """A master data job: its setup tables, then the registry's tables of that job."""
    tables = [t.name for t in registry.TABLES.values() if t.job == job_number]
    return StandardJob(job_number, name, DOWNLOAD, (*SETUP_TABLES.get(job_number, ()), *tables))


STANDARD_JOBS: tuple[StandardJob, ...] = (
    _download("1000", "Currency"),
    _download("1010", "Customers"),
    _download("1020", "Prices and discounts"),
    _download("1040", "Products"),
    _download("1060", "Staff"),
    _download("1070", "Channel configuration"),
    _download("1080", "Sales tax"),
    _download("1090", "Registers"),
    _download("1110", "Global configuration"),
    _download("1150", "Catalog"),
    StandardJob(
        "P-0001",
        "Channel transactions",
        UPLOAD,
        ("sales_transaction", "sales_line", "payment_line"),
    ),
)

KNOWN_TABLES: frozenset[str] = frozenset(t for job in STANDARD_JOBS for t in job.tables)

# HQ runs this job to send the offline profiles and their scopes to the channel databases (the
# store servers); offline databases get their own profile with their configuration instead.
OFFLINE_SCOPES_JOB = StandardJob(
    "1200", "Offline scopes", DOWNLOAD, ("offline_profile", "offline_scope")
)

# Every job HQ Portal knows: the master data jobs, the upload job and the offline scopes job.
JOB_CATALOGUE: tuple[StandardJob, ...] = (*STANDARD_JOBS, OFFLINE_SCOPES_JOB)
