"""Package files are removed once every target is done with them, and rebuilt if needed again."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.core.extensions import db
from portal.distribution import retention
from portal.distribution.models import DataPackage, DownloadSession
from tests.distribution.conftest import run_schedule, sessions_by_database

pytestmark = pytest.mark.usefixtures("stores_group")


def package_path(package: DataPackage) -> Path:
    return Path(current_app.config["PACKAGE_STORE"]) / package.path


def mark(run, status: str, *names: str) -> None:
    for name, session in sessions_by_database(run).items():
        if name in names:
            session.status = status
    db.session.commit()


def test_applied_packages_go_and_needed_ones_stay():
    run = run_schedule()
    sessions = sessions_by_database(run)
    texas, washington = sessions["HOUSTON"].package, sessions["SEATTLE"].package
    mark(run, "applied", "HOUSTON", "SEATTLE")  # DALLAS still has the Texas package to fetch

    assert retention.clean_packages(timedelta(0)) == 1
    db.session.commit()

    assert washington.removed_at is not None and not package_path(washington).exists()
    assert texas.removed_at is None and package_path(texas).exists()


def test_young_packages_are_kept():
    run = run_schedule()
    mark(run, "applied", "HOUSTON", "DALLAS", "SEATTLE")
    assert retention.clean_packages(timedelta(days=7)) == 0


def test_removed_content_needed_again_is_written_anew():
    run = run_schedule()
    mark(run, "applied", "HOUSTON", "DALLAS", "SEATTLE")
    retention.clean_packages(timedelta(0))
    db.session.commit()

    again = sessions_by_database(run_schedule(full=True))["HOUSTON"]

    assert again.package.removed_at is None
    assert package_path(again.package).exists()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(DataPackage))
    assert count == 2


def test_abandoned_partial_files_are_removed():
    store = Path(current_app.config["PACKAGE_STORE"])
    store.mkdir(parents=True, exist_ok=True)
    old = store / ".old.zip.1.partial"
    old.write_bytes(b"half a package")
    fresh = store / ".fresh.zip.2.partial"
    fresh.write_bytes(b"a build in progress")
    os.utime(old, (0, 0))

    retention.clean_packages(timedelta(days=7))

    assert not old.exists() and fresh.exists()
    fresh.unlink()


def test_sessions_keep_pointing_at_removed_packages():
    run = run_schedule()
    mark(run, "applied", "HOUSTON", "DALLAS", "SEATTLE")
    retention.clean_packages(timedelta(0))
    db.session.commit()
    sessions = db.session.scalars(sa.select(DownloadSession).filter_by(run_id=run.id))
    assert all(s.package.removed_at is not None for s in sessions)
