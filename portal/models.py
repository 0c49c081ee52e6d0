"""Imports every model so that Alembic and `db.create_all` see the whole schema."""

from portal.audit.models import AuditEntry
from portal.auth.models import ApiToken, User
from portal.channels.models import ChannelDatabase, ChannelDataGroup
from portal.distribution.models import (
    DataPackage,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
    SchedulerJob,
)
from portal.masterdata.tax import ItemTaxGroup, SalesTaxGroup, TaxCode, TaxRate
from portal.masterdata.versioning import ChangeCounter
from portal.offline_profiles.models import OfflineProfile, OfflineScope
from portal.registers.models import Register
from portal.stores.models import Store

__all__ = [
    "ApiToken",
    "ChangeCounter",
    "DataPackage",
    "DistributionRun",
    "DistributionSchedule",
    "DownloadSession",
    "ItemTaxGroup",
    "SalesTaxGroup",
    "TaxCode",
    "TaxRate",
    "AuditEntry",
    "ChannelDataGroup",
    "ChannelDatabase",
    "OfflineProfile",
    "OfflineScope",
    "Register",
    "SchedulerJob",
    "Store",
    "User",
]
