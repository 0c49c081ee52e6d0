"""Imports every model module so that Alembic and `db.create_all` see the whole schema."""

import portal.audit.models
import portal.auditor.models
import portal.auth.models
import portal.device_api.models
import portal.distribution.models
import portal.masterdata.configuration
import portal.masterdata.people
import portal.masterdata.prices
import portal.masterdata.products
import portal.masterdata.tax
import portal.masterdata.versioning
import portal.setup.models
import portal.transactions.models  # noqa: F401
