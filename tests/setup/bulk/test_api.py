"""Bulk changes through the API: selection, dry run, refusals, operations and audit entries."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry, Operation
from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase, Register, Store

pytestmark = pytest.mark.usefixtures("app_ctx", "chain")


def offline_names(active: bool = True) -> list[str]:
    db.session.rollback()
    stmt = sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE, active=active)
    return sorted(db.session.scalars(stmt))


def register(number: str) -> Register:
    db.session.rollback()
    return db.session.scalar(sa.select(Register).filter_by(register_number=number))


def test_dry_run_counts_changed_unchanged_and_refused_and_writes_nothing(client, hq):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {}, "set": {"support_offline": True}, "dry_run": True},
        headers=hq,
    )

    assert answer.status_code == 200, answer.json
    assert answer.json["dry_run"] is True
    assert answer.json["selected"] == 7
    assert answer.json["changed"] == 5
    assert answer.json["unchanged"] == 1
    assert answer.json["refused"] == 1
    assert answer.json["refusals"] == [
        {
            "key": "NOGROUP-1",
            "reason": "Store 'NOGROUP' has no channel data group; assign one to the store "
            "before enabling Support offline.",
        }
    ]
    assert answer.json["operation"] is None
    assert offline_names() == ["HOUSTON-1"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Operation)) == 0


def test_enable_by_filter_is_one_operation_with_one_entry_per_changed_record(client, hq):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {"channel_data_group": "Stores"}, "set": {"support_offline": True}},
        headers=hq,
    )

    assert answer.status_code == 200, answer.json
    assert (answer.json["changed"], answer.json["unchanged"], answer.json["refused"]) == (5, 1, 0)
    operation = answer.json["operation"]
    assert operation["status"] == "done" and operation["progress"] == 1.0
    assert offline_names() == [
        "DALLAS-1",
        "DALLAS-2",
        "DALLAS-3",
        "HOUSTON-1",
        "HOUSTON-2",
        "HOUSTON-3",
    ]
    # The same rule as for one register: each offline database in its store's group.
    database = db.session.scalar(sa.select(ChannelDatabase).filter_by(name="DALLAS-2"))
    assert database.channel_data_group.name == "Stores" and database.register is not None
    entries = db.session.scalars(
        sa.select(AuditEntry).filter_by(operation_id=operation["id"]).order_by(AuditEntry.id)
    ).all()
    by_type = {}
    for entry in entries:
        by_type.setdefault((entry.entity_type, entry.action), []).append(entry.entity_key)
    changed = ["DALLAS-1", "DALLAS-2", "DALLAS-3", "HOUSTON-2", "HOUSTON-3"]
    assert sorted(by_type[("register", "enable_offline")]) == changed
    assert sorted(by_type[("channel_database", "create")]) == changed
    assert len(entries) == 10
    assert {entry.actor for entry in entries} == {answer.json["operation"]["actor"]}
    assert {entry.source for entry in entries} == {"api"}

    followed = client.get(f"/api/v1/operations/{operation['id']}", headers=hq)
    assert followed.status_code == 200
    assert followed.json["changed"] == 5 and followed.json["status"] == "done"


def test_list_of_numbers_refuses_unknown_ones_with_reasons(client, hq):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={
            "register_numbers": ["houston-2", "NOPE-9", "NOGROUP-1"],
            "set": {"support_offline": True, "offline_profile": "Strict"},
        },
        headers=hq,
    )

    assert answer.status_code == 200, answer.json
    assert answer.json["changed"] == 1
    reasons = {r["key"]: r["reason"] for r in answer.json["refusals"]}
    assert reasons["NOPE-9"] == "Register does not exist."
    assert "has no channel data group" in reasons["NOGROUP-1"]
    houston_2 = register("HOUSTON-2")
    assert houston_2.support_offline and houston_2.offline_profile.name == "Strict"
    # A refused register is left exactly as it was, its profile too.
    assert register("NOGROUP-1").offline_profile is None


def test_turning_off_with_an_activated_device_asks_for_confirmation(client, hq):
    body = {"filter": {"store": "HOUSTON"}, "set": {"support_offline": False}}
    dry = client.post("/api/v1/registers/bulk", json={**body, "dry_run": True}, headers=hq)
    assert dry.json["activated"] == 1

    refused = client.post("/api/v1/registers/bulk", json=body, headers=hq)
    assert refused.status_code == 409
    assert "activated device" in refused.json["error"]["message"]
    assert offline_names() == ["HOUSTON-1"]

    done = client.post(
        "/api/v1/registers/bulk", json={**body, "confirm_activated": True}, headers=hq
    )
    assert done.status_code == 200, done.json
    assert done.json["changed"] == 1
    assert offline_names() == [] and offline_names(active=False) == ["HOUSTON-1"]


def test_activate_deactivate_and_profile_go_through_the_register_rule(client, hq):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {"store": "HOUSTON"}, "set": {"active": False}},
        headers=hq,
    )
    assert answer.json["changed"] == 3
    # An inactive register keeps its offline database, deactivated, as one change would.
    assert offline_names() == [] and offline_names(active=False) == ["HOUSTON-1"]


def test_bad_change_is_refused_by_field_and_nothing_changes(client, hq):
    unknown = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {}, "set": {"offline_profile": "Nope"}},
        headers=hq,
    )
    both = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {}, "register_numbers": ["HOUSTON-1"], "set": {"active": True}},
        headers=hq,
    )
    empty = client.post("/api/v1/registers/bulk", json={"filter": {}, "set": {}}, headers=hq)
    extra = client.post(
        "/api/v1/registers/bulk", json={"filter": {}, "set": {"store": "DALLAS"}}, headers=hq
    )

    assert unknown.status_code == 422 and "set.offline_profile" in unknown.json["error"]["fields"]
    assert both.status_code == 422 and "filter" in both.json["error"]["fields"]
    assert empty.status_code == 422 and "set" in empty.json["error"]["fields"]
    assert extra.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Operation)) == 0


def test_stores_move_to_a_group_taking_their_channel_database(client, hq):
    answer = client.post(
        "/api/v1/stores/bulk",
        json={"store_numbers": ["HOUSTON", "DALLAS"], "set": {"channel_data_group": "Parking"}},
        headers=hq,
    )

    assert answer.status_code == 200, answer.json
    assert answer.json["changed"] == 2
    db.session.rollback()
    houston = db.session.scalar(sa.select(Store).filter_by(store_number="HOUSTON"))
    assert houston.channel_data_group.name == "Parking"
    assert houston.channel_database.channel_data_group.name == "Parking"
    entries = db.session.scalars(
        sa.select(AuditEntry.entity_key).filter_by(
            operation_id=answer.json["operation"]["id"], entity_type="store"
        )
    ).all()
    assert sorted(entries) == ["DALLAS", "HOUSTON"]


def test_stores_by_filter_unchanged_counted(client, hq):
    answer = client.post(
        "/api/v1/stores/bulk",
        json={"filter": {"channel_data_group": "Stores"}, "set": {"offline_profile": "Standard"}},
        headers=hq,
    )
    assert (answer.json["changed"], answer.json["unchanged"]) == (0, 2)


def test_reading_needs_a_token_and_changing_the_right_role(client, token_for):
    auditor = token_for("auditor")
    body = {"filter": {}, "set": {"active": True}}
    assert client.post("/api/v1/registers/bulk", json=body).status_code == 401
    assert client.post("/api/v1/registers/bulk", json=body, headers=auditor).status_code == 403
    assert client.get("/api/v1/operations/1", headers=auditor).status_code == 404


def entries(operation_id: int, entity_type: str) -> list[tuple[str, str, dict, dict]]:
    db.session.rollback()
    stmt = (
        sa.select(AuditEntry)
        .filter_by(operation_id=operation_id, entity_type=entity_type)
        .order_by(AuditEntry.id)
    )
    return [(e.action, e.entity_key, e.before, e.after) for e in db.session.scalars(stmt)]


def test_switching_back_on_reuses_the_deactivated_offline_database(client, hq):
    body = {"filter": {"store": "DALLAS"}, "set": {"support_offline": True}}
    client.post("/api/v1/registers/bulk", json=body, headers=hq)
    ids = dict(db.session.execute(sa.select(ChannelDatabase.name, ChannelDatabase.id)).all())
    off = {**body, "set": {"support_offline": False}}
    assert client.post("/api/v1/registers/bulk", json=off, headers=hq).json["changed"] == 3
    assert offline_names(active=False) == ["DALLAS-1", "DALLAS-2", "DALLAS-3"]

    again = client.post("/api/v1/registers/bulk", json=body, headers=hq).json

    assert again["changed"] == 3
    db.session.rollback()
    kept = dict(db.session.execute(sa.select(ChannelDatabase.name, ChannelDatabase.id)).all())
    assert kept == ids
    assert entries(again["operation"]["id"], "channel_database") == [
        ("activate", name, {"active": False}, {"active": True})
        for name in ("DALLAS-1", "DALLAS-2", "DALLAS-3")
    ]


def test_a_register_whose_number_a_database_has_is_refused_and_the_rest_changed(client, hq):
    client.post(
        "/api/v1/stores",
        json={
            "store_number": "DALLAS-2",
            "name": "A store named like a register",
            "currency": "USD",
            "tax_group": "TX",
            "time_zone": "America/Chicago",
            "channel_data_group": "Stores",
        },
        headers=hq,
    )

    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {"store": "DALLAS"}, "set": {"support_offline": True}},
        headers=hq,
    ).json

    assert (answer["changed"], answer["refused"]) == (2, 1)
    assert answer["refusals"] == [
        {
            "key": "DALLAS-2",
            "reason": "A channel database named 'DALLAS-2' already exists; store and register "
            "numbers must not clash.",
        }
    ]
    assert offline_names() == ["DALLAS-1", "DALLAS-3", "HOUSTON-1"]
    assert not register("DALLAS-2").support_offline


def test_profile_and_active_are_one_entry_per_changed_register(client, hq):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {"store": "HOUSTON"}, "set": {"offline_profile": "Strict"}},
        headers=hq,
    ).json

    assert answer["changed"] == 3
    strict = register("HOUSTON-2").offline_profile
    assert strict.name == "Strict"
    assert entries(answer["operation"]["id"], "register") == [
        ("update", f"HOUSTON-{n}", {"offline_profile_id": None}, {"offline_profile_id": strict.id})
        for n in (1, 2, 3)
    ]
    again = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {"store": "HOUSTON"}, "set": {"offline_profile": "Strict"}},
        headers=hq,
    ).json
    assert (again["changed"], again["unchanged"]) == (0, 3)


def test_moving_stores_is_one_entry_per_store_and_per_channel_database(client, hq):
    answer = client.post(
        "/api/v1/stores/bulk",
        json={"filter": {}, "set": {"channel_data_group": "Parking"}},
        headers=hq,
    ).json

    assert (answer["changed"], answer["unchanged"]) == (3, 0)
    operation = answer["operation"]["id"]
    assert [key for _, key, _, _ in entries(operation, "store")] == ["DALLAS", "HOUSTON", "NOGROUP"]
    moved = entries(operation, "channel_database")
    assert sorted(key for _, key, _, _ in moved) == ["DALLAS", "HOUSTON", "NOGROUP"]
    parking = db.session.scalar(sa.select(Store).filter_by(store_number="NOGROUP"))
    assert parking.channel_database.channel_data_group.name == "Parking"


@pytest.mark.parametrize(
    ("filters", "selected"),
    [
        ({"store": "HOUSTON", "offline_profile": "Standard"}, 3),
        ({"channel_data_group": "Stores", "offline_profile": "Standard", "q": "-2"}, 2),
        (
            {
                "store": "HOUSTON",
                "channel_data_group": "Stores",
                "offline_profile": "Standard",
                "support_offline": False,
                "activated": False,
                "active": True,
                "q": "HOU",
            },
            2,
        ),
        ({"store": "HOUSTON", "offline_profile": "Strict"}, 0),
    ],
)
def test_every_filter_goes_with_every_other(client, hq, filters, selected):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": filters, "set": {"active": True}, "dry_run": True},
        headers=hq,
    )

    assert answer.status_code == 200, answer.json
    assert answer.json["selected"] == selected
