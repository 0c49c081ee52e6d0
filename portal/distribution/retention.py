"""Retention: package files go once every target is done with them and they have aged.

The files go from the package store, local folder or bucket alike.
"""

from datetime import timedelta

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution.models import (
    SESSION_APPLIED,
    SESSION_CANCELED,
    DataPackage,
    DownloadSession,
)
from portal.distribution.storage import package_store

# A session in any other state may still download (or retry) its package.
DONE_WITH_PACKAGE = (SESSION_APPLIED, SESSION_CANCELED)
PARTIAL_MAX_AGE_S = 3600


def clean_packages(older_than: timedelta) -> int:
    """Delete the files of aged packages no session still needs; returns how many went."""
    still_needed = sa.exists().where(
        DownloadSession.package_id == DataPackage.id,
        DownloadSession.status.not_in(DONE_WITH_PACKAGE),
    )
    removable = list(
        db.session.scalars(
            sa.select(DataPackage).where(
                DataPackage.removed_at.is_(None),
                DataPackage.created_at < utcnow() - older_than,
                ~still_needed,
            )
        )
    )
    store = package_store()
    for package in removable:
        store.delete(package.path)
        package.removed_at = utcnow()
    db.session.flush()
    # A build killed mid-write leaves its temporary file behind; its rebuild writes a new one.
    store.remove_abandoned_partials(timedelta(seconds=PARTIAL_MAX_AGE_S))
    return len(removable)
