"""Package builds: scoping, full and incremental content, deletes, sharing and idempotency."""

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from prometheus_client import REGISTRY

from portal.core import metrics
from portal.core.extensions import db
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.distribution.models import DataPackage, DownloadSession
from portal.distribution.package_files import file_sha256, read_package
from portal.masterdata.tax import SalesTaxGroup, TaxCode, TaxRate
from portal.masterdata.versioning import tombstone
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores
from tests.distribution.conftest import package_lines, run_schedule, sessions_by_database
from tests.factories import ProfileFactory, RegisterFactory

pytestmark = pytest.mark.usefixtures("stores_group")


def test_first_run_gives_every_store_a_full_package_scoped_to_its_tax_group():
    run = run_schedule()
    sessions = sessions_by_database(run)

    assert run.status == "done" and run.sessions_done == run.sessions_total == 3
    assert {s.status for s in sessions.values()} == {"available"}
    assert {s.kind for s in sessions.values()} == {"full"}
    lines = package_lines(sessions["HOUSTON"])
    assert [line["key"]["code"] for line in lines["sales_tax_group"]] == ["TX"]
    assert {line["key"]["code"] for line in lines["tax_code"]} == {"TX-STATE", "WA-STATE"}
    assert lines["tax_rate"][0]["row"]["rate"] == "6.2500"
    seattle = package_lines(sessions["SEATTLE"])
    assert [line["key"]["code"] for line in seattle["sales_tax_group"]] == ["WA"]


def test_identical_content_is_built_once_and_shared():
    sessions = sessions_by_database(run_schedule())
    assert sessions["HOUSTON"].package_id == sessions["DALLAS"].package_id
    assert sessions["SEATTLE"].package_id != sessions["HOUSTON"].package_id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataPackage)) == 2


def test_package_file_matches_its_recorded_checksum_and_manifest():
    session = sessions_by_database(run_schedule())["HOUSTON"]
    package = session.package
    path = Path(current_app.config["PACKAGE_STORE"]) / package.path
    assert file_sha256(path) == package.sha256
    assert path.stat().st_size == package.size
    manifest, tables = read_package(path)
    assert manifest["job"] == "1080" and manifest["kind"] == "full"
    assert manifest["row_counts"] == {name: len(lines) for name, lines in tables.items()}
    assert manifest["row_counts"] == package.row_counts
    assert manifest["schema_version"] == 2
    assert manifest["tables"]["tax_rate"]["key"] == ["tax_code", "valid_from"]


def test_changing_one_rate_gives_incremental_packages_with_just_that_change():
    run_schedule()
    rate = db.session.scalar(sa.select(TaxRate).filter_by(tax_code="TX-STATE"))
    rate.rate = Decimal("6.75")
    db.session.commit()

    sessions = sessions_by_database(run_schedule())

    houston = sessions["HOUSTON"]
    assert houston.kind == "incremental"
    lines = package_lines(houston)
    assert lines["tax_rate"] == [
        {
            "op": "upsert",
            "key": {"tax_code": "TX-STATE", "valid_from": "2020-01-01"},
            "row": {
                "tax_code": "TX-STATE",
                "rate": "6.7500",
                "valid_from": "2020-01-01",
                "valid_to": None,
            },
        }
    ]
    assert lines["tax_code"] == [] and lines["sales_tax_group"] == []
    assert houston.base_version < houston.new_version


def test_store_specific_change_leaves_other_stores_with_no_data():
    run_schedule()
    group = db.session.scalar(sa.select(SalesTaxGroup).filter_by(code="WA"))
    group.name = "Washington State"
    db.session.commit()

    run = run_schedule()
    sessions = sessions_by_database(run)
    assert sessions["SEATTLE"].status == "available"
    # Nothing new for the Texas stores: counted on the run, no session row kept for them.
    assert "HOUSTON" not in sessions and "DALLAS" not in sessions
    assert (run.sessions_no_data, run.sessions_done, run.sessions_total) == (2, 3, 3)
    assert [
        line["key"]["code"] for line in package_lines(sessions["SEATTLE"])["sales_tax_group"]
    ] == ["WA"]


def package_files_written(job_number: str) -> float:
    """Package files the builds in this process wrote for the job, by the portal's own metric."""
    name = f"{metrics.PREFIX}_package_build_seconds_count"
    return REGISTRY.get_sample_value(name, {"job": job_number}) or 0


def test_a_run_with_nothing_new_writes_no_package_file():
    run_schedule()
    written = package_files_written("1080")

    run = run_schedule()
    assert (run.sessions_no_data, run.sessions_done, run.sessions_total) == (3, 3, 3)
    assert package_files_written("1080") == written


def test_deleted_rows_travel_as_tombstones_and_leave_full_packages():
    run_schedule()
    tombstone(db.session.scalar(sa.select(TaxCode).filter_by(code="WA-STATE")))
    db.session.commit()

    houston = sessions_by_database(run_schedule())["HOUSTON"]
    assert package_lines(houston)["tax_code"] == [{"op": "delete", "key": {"code": "WA-STATE"}}]

    full = sessions_by_database(run_schedule(full=True))["HOUSTON"]
    assert full.kind == "full"
    assert [line["key"]["code"] for line in package_lines(full)["tax_code"]] == ["TX-STATE"]


def test_rows_are_never_hard_deleted():
    db.session.delete(db.session.scalar(sa.select(TaxCode).filter_by(code="WA-STATE")))
    with pytest.raises(RuntimeError, match="tombstone"):
        db.session.flush()
    db.session.rollback()


def test_a_change_of_store_tax_group_forces_a_full_package():
    run_schedule()
    stores.update_store(stores.get_store("HOUSTON"), {"tax_group": "WA"})
    db.session.commit()

    sessions = sessions_by_database(run_schedule())
    assert sessions["HOUSTON"].kind == "full"
    assert [
        line["key"]["code"] for line in package_lines(sessions["HOUSTON"])["sales_tax_group"]
    ] == ["WA"]
    assert "DALLAS" not in sessions  # nothing new for it


def test_offline_databases_get_only_their_profile_scopes():
    profile = ProfileFactory(
        scopes=[{"name": "Tax", "direction": "download", "tables": ["tax_rate", "tax_code"]}]
    )
    RegisterFactory(
        register_number="HOUSTON-1",
        store="HOUSTON",
        offline_profile=profile.name,
        support_offline=True,
    )
    no_tax = ProfileFactory(
        scopes=[{"name": "Products", "direction": "download", "tables": ["product"]}]
    )
    RegisterFactory(
        register_number="HOUSTON-2",
        store="HOUSTON",
        offline_profile=no_tax.name,
        support_offline=True,
    )
    paused = ProfileFactory(pause_sync=True)
    RegisterFactory(
        register_number="HOUSTON-3",
        store="HOUSTON",
        offline_profile=paused.name,
        support_offline=True,
    )

    sessions = sessions_by_database(run_schedule())

    assert set(package_lines(sessions["HOUSTON-1"])) == {"tax_code", "tax_rate"}
    assert "HOUSTON-2" not in sessions
    assert "HOUSTON-3" not in sessions


def test_inactive_offline_databases_get_nothing():
    register = RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    registers.set_support_offline(register, False)
    db.session.commit()
    assert "HOUSTON-1" not in sessions_by_database(run_schedule())


def test_building_a_session_twice_changes_nothing():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    session_ids = runs.plan_run(run.id)
    db.session.commit()
    assert runs.plan_run(run.id) == []  # a run handed over twice is planned once
    first = session_ids[0]
    assert builds.build_session(first) == "available"
    db.session.commit()
    assert builds.build_session(first) is None
    db.session.commit()
    db.session.refresh(run)
    assert run.sessions_done == 1
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(DownloadSession).filter_by(run_id=run.id)
    )
    assert total == run.sessions_total == 3


def test_run_without_targets_finishes_at_once():
    distribution.create_schedule({"code": "EMPTY", "jobs": ["1080"], "groups": []})
    db.session.commit()
    run = run_schedule("EMPTY")
    assert run.status == "done" and run.sessions_total == 0
    assert "No active channel database" in run.message


def test_offline_scopes_job_sends_every_profile_and_its_scopes_whole():
    from portal.setup.offline_profiles import services as profiles

    distribution.create_schedule({"code": "1200", "jobs": ["1200"], "groups": ["Stores"]})
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    db.session.commit()

    first = sessions_by_database(run_schedule("1200"))
    assert set(first) == {"HOUSTON", "DALLAS", "SEATTLE"}  # offline databases are excluded
    lines = package_lines(first["HOUSTON"])
    store_profile = stores.get_store("HOUSTON").offline_profile
    scopes = [
        line["key"]
        for line in lines["offline_scope"]
        if line["key"]["profile"] == store_profile.name
    ]
    assert scopes[0] == {"profile": store_profile.name, "name": "Currency"}
    assert {line["row"]["name"] for line in lines["offline_profile"]} >= {store_profile.name}

    profiles.update_profile(store_profile, {"offline_timeout_s": 45})
    db.session.commit()
    again = sessions_by_database(run_schedule("1200"))["HOUSTON"]
    assert again.kind == "full" and again.package_id != first["HOUSTON"].package_id
    timeouts = {
        line["row"]["name"]: line["row"]["offline_timeout_s"]
        for line in package_lines(again)["offline_profile"]
    }
    assert timeouts[store_profile.name] == "45"


def test_a_store_with_distribution_history_cannot_be_deleted():
    from portal.core.errors import Conflict

    run_schedule()
    with pytest.raises(Conflict, match="history is kept"):
        stores.delete_store(stores.get_store("SEATTLE"))
