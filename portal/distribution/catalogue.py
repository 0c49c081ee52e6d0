"""The standard scheduler job catalogue (see DOMAIN.md): job number, name, direction, tables."""

from typing import NamedTuple

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


STANDARD_JOBS: tuple[StandardJob, ...] = (
    StandardJob("1000", "Currency", DOWNLOAD, ("currency", "exchange_rate")),
    StandardJob("1010", "Customers", DOWNLOAD, ("customer", "customer_address", "customer_group")),
    StandardJob(
        "1020", "Prices and discounts", DOWNLOAD, ("price_group", "trade_agreement", "discount")
    ),
    StandardJob(
        "1040",
        "Products",
        DOWNLOAD,
        ("product", "product_variant", "barcode", "product_category", "unit"),
    ),
    StandardJob("1060", "Staff", DOWNLOAD, ("worker", "worker_store", "pos_permission_group")),
    StandardJob(
        "1070",
        "Channel configuration",
        DOWNLOAD,
        ("store_settings", "payment_method", "receipt_profile", "functionality_profile"),
    ),
    StandardJob(
        "1080", "Sales tax", DOWNLOAD, ("tax_code", "tax_rate", "sales_tax_group", "item_tax_group")
    ),
    StandardJob("1090", "Registers", DOWNLOAD, ("register", "register_hardware", "screen_layout")),
    StandardJob("1110", "Global configuration", DOWNLOAD, ("shared_parameter", "feature_switch")),
    StandardJob("1150", "Catalog", DOWNLOAD, ("assortment", "assortment_line", "catalog")),
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
