"""Imports every model module so that Alembic and `db.create_all` see the whole schema."""

import portal.audit.models
import portal.auditor.models
import portal.auth.models
import portal.device_api.models
import portal.distribution.alert_models
import portal.distribution.models
import portal.distribution.parameters
import portal.masterdata.registry  # every master data table's model, through its entry
import portal.masterdata.versioning
import portal.setup.models
import portal.transactions.models  # noqa: F401
