"""Retention: package files go once every target is done with them and they have aged."""

import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution.models import (
    SESSION_APPLIED,
    SESSION_CANCELED,
    DataPackage,
    DownloadSession,
)

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
    store = Path(current_app.config["PACKAGE_STORE"])
    for package in removable:
        (store / package.path).unlink(missing_ok=True)
        package.removed_at = utcnow()
    db.session.flush()
    _remove_abandoned_partials(store)
    return len(removable)


def _remove_abandoned_partials(store: Path) -> None:
    # A build killed mid-write leaves its temporary file behind; its rebuild writes a new one.
    cutoff = time.time() - PARTIAL_MAX_AGE_S
    for partial in store.rglob("*.partial"):
        if partial.stat().st_mtime < cutoff:
            partial.unlink(missing_ok=True)
