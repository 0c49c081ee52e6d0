"""Bulk change pages: filters, the confirmation with its preview, the second confirmation for
activated devices, the operation's page, and CSV import and export on the pages."""

import io
import re

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.hooks import bulk_offline_preview
from portal.setup.models import OFFLINE, ChannelDatabase, Register, Store

pytestmark = pytest.mark.usefixtures("app_ctx", "chain")


def offline_names(active: bool = True) -> list[str]:
    db.session.rollback()
    stmt = sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE, active=active)
    return sorted(db.session.scalars(stmt))


def test_register_list_filters_and_offers_all_that_match(client, login):
    login("hq")
    page = client.get("/registers/?channel_data_group=Stores&support_offline=no")

    assert page.status_code == 200
    numbers = re.findall(r'name="pick" value="([^"]+)"', page.text)
    assert numbers == ["DALLAS-1", "DALLAS-2", "DALLAS-3", "HOUSTON-2", "HOUSTON-3"]
    assert "All 5 that match" in page.text
    activated = client.get("/registers/?activated=yes").text
    assert re.findall(r'name="pick" value="([^"]+)"', activated) == ["HOUSTON-1"]


def test_confirmation_previews_then_the_change_is_one_operation(client, login):
    login("hq")
    seen = []

    def summary(register_ids):
        seen.append(sorted(register_ids))
        return {"offline_preview": {"summary": f"{len(register_ids)} offline databases, 1 MB."}}

    bulk_offline_preview.add(summary)
    form = {
        "action": "support_offline_on",
        "scope": "all",
        "f_channel_data_group": "Stores",
        "f_support_offline": "no",
    }
    try:
        confirm = client.post("/registers/bulk", data=form)
    finally:
        bulk_offline_preview._providers.remove(summary)

    assert confirm.status_code == 200
    assert "Switch Support offline on: 5 registers?" in confirm.text
    assert "5 offline databases, 1 MB." in confirm.text
    assert len(seen[0]) == 5
    assert offline_names() == ["HOUSTON-1"]  # nothing changed yet

    done = client.post("/registers/bulk/apply", data=form)
    assert done.status_code == 302
    operation_page = client.get(done.location)
    assert operation_page.status_code == 200
    assert re.search(r"data-run-status>done<", operation_page.text)
    assert re.search(r'data-field="changed">5<', operation_page.text)
    assert len(offline_names()) == 6
    progress = client.get(done.location + "/progress").json
    assert progress["status"] == "done" and progress["percent"] == 100


def test_ticked_rows_only_and_refusals_shown_with_reasons(client, login):
    login("hq")
    form = {"action": "support_offline_on", "scope": "ticked", "pick": ["DALLAS-1", "NOGROUP-1"]}
    confirm = client.post("/registers/bulk", data=form)
    assert "Switch Support offline on: 1 register?" in confirm.text
    assert "NOGROUP-1" in confirm.text and "has no channel data group" in confirm.text

    done = client.post("/registers/bulk/apply", data=form)
    page = client.get(done.location).text
    assert "NOGROUP-1" in page and "has no channel data group" in page
    assert offline_names() == ["DALLAS-1", "HOUSTON-1"]


def test_turning_off_activated_devices_asks_a_second_time(client, login):
    login("hq")
    form = {"action": "support_offline_off", "scope": "all", "f_store": "HOUSTON"}
    first = client.post("/registers/bulk", data=form)
    assert "With an activated device" in first.text

    second = client.post("/registers/bulk/apply", data=form)
    assert second.status_code == 200
    assert "1 of these registers have an activated device" in second.text
    assert 'name="confirm_activated" value="1"' in second.text
    assert offline_names() == ["HOUSTON-1"]

    done = client.post("/registers/bulk/apply", data={**form, "confirm_activated": "1"})
    assert done.status_code == 302
    assert offline_names() == [] and offline_names(active=False) == ["HOUSTON-1"]


def test_set_profile_and_deactivate_from_the_page(client, login):
    login("hq")
    client.post(
        "/registers/bulk/apply",
        data={
            "action": "offline_profile",
            "value_offline_profile": "Strict",
            "scope": "all",
            "f_store": "DALLAS",
        },
    )
    client.post(
        "/registers/bulk/apply",
        data={"action": "deactivate", "scope": "ticked", "pick": ["DALLAS-3"]},
    )
    db.session.rollback()
    registers = db.session.scalars(
        sa.select(Register).join(Register.store).filter(Store.store_number == "DALLAS")
    ).all()
    assert {r.offline_profile.name for r in registers} == {"Strict"}
    assert [r.register_number for r in registers if not r.active] == ["DALLAS-3"]


def test_stores_move_to_a_group_from_the_store_list(client, login):
    login("hq")
    listed = client.get("/stores/?channel_data_group=-")
    assert re.findall(r'name="pick" value="([^"]+)"', listed.text) == ["NOGROUP"]
    form = {
        "action": "channel_data_group",
        "value_channel_data_group": "Parking",
        "scope": "all",
        "f_channel_data_group": "-",
    }
    confirm = client.post("/stores/bulk", data=form)
    assert "Move to a channel data group: 1 store?" in confirm.text
    client.post("/stores/bulk/apply", data=form)
    db.session.rollback()
    store = db.session.scalar(sa.select(Store).filter_by(store_number="NOGROUP"))
    assert store.channel_data_group.name == "Parking"
    assert store.channel_database.channel_data_group.name == "Parking"


def test_only_roles_that_change_the_setup_see_and_use_bulk_changes(client, login):
    login("auditor")
    page = client.get("/registers/")
    assert page.status_code == 200 and 'name="pick"' not in page.text
    refused = client.post("/registers/bulk/apply", data={"action": "activate", "scope": "all"})
    assert refused.status_code == 403


def test_csv_import_page_lists_every_error_then_imports(client, login):
    login("hq")
    exported = client.get("/stores/export.csv")
    assert exported.status_code == 200
    text = exported.text
    broken = text + "NEWSTORE,,USD,TX,Mars/Olympus,Nope,,,\n"
    failed = client.post(
        "/stores/import",
        data={"file": (io.BytesIO(broken.encode()), "stores.csv"), "dry_run": "y"},
        content_type="multipart/form-data",
    )
    assert failed.status_code == 200
    assert "Nothing was imported" in failed.text
    for where in ("line 5.name", "line 5.time_zone", "line 5.channel_data_group"):
        assert where in failed.text

    fixed = text + "NEWSTORE,New store,USD,TX,America/Chicago,Parking,,,\n"
    imported = client.post(
        "/stores/import",
        data={"file": (io.BytesIO(fixed.encode()), "stores.csv")},
        content_type="multipart/form-data",
    )
    assert "Imported" in imported.text
    db.session.rollback()
    assert db.session.scalar(sa.select(Store).filter_by(store_number="NEWSTORE")) is not None


def test_the_audit_trail_lists_an_operations_entries(client, login):
    login("admin")
    form = {"action": "support_offline_on", "scope": "ticked", "pick": ["DALLAS-1", "DALLAS-2"]}
    done = client.post("/registers/bulk/apply", data=form)
    operation_id = int(done.location.rsplit("/", 1)[1])
    assert f"/audit/?operation={operation_id}" in client.get(done.location).text

    trail = client.get(f"/audit/?operation={operation_id}")

    assert trail.status_code == 200
    assert f"operation {operation_id}" in trail.text
    assert trail.text.count("enable_offline") == 2
    assert "HOUSTON-1" not in trail.text
