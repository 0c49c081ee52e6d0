"""Imports every model module so that Alembic and `db.create_all` see the whole schema."""

import portal.anomalies.models
import portal.audit.models
import portal.auth.models
import portal.channels.models
import portal.device_api.models
import portal.distribution.models
import portal.masterdata.registry  # every master data table's model, through its entry
import portal.masterdata.versioning
import portal.offline_profiles.models
import portal.registers.models
import portal.stores.models
import portal.transactions.models  # noqa: F401
