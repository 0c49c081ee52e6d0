"""CSV export and import of stores and registers: round trip, dry run, every error at once."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry, Operation
from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase, Register, Store
from tests.setup.bulk.conftest import csv_headers

pytestmark = pytest.mark.usefixtures("app_ctx", "chain")


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_export_has_the_api_columns_and_every_record(client, hq):
    stores = client.get("/api/v1/stores/export.csv", headers=hq)
    assert stores.status_code == 200 and stores.mimetype == "text/csv"
    lines = stores.text.splitlines()
    registers = client.get("/api/v1/registers/export.csv", headers=hq)

    assert lines[0] == (
        "store_number,name,currency,tax_group,time_zone,channel_data_group,offline_profile,"
        "price_group,assortment"
    )
    assert [line.split(",")[0] for line in lines[1:]] == ["DALLAS", "HOUSTON", "NOGROUP"]
    rows = registers.text.splitlines()
    assert rows[0] == "register_number,store,support_offline,offline_profile,active"
    assert "HOUSTON-1,HOUSTON,true,,true" in rows
    assert len(rows) == 8


def test_round_trip_changes_nothing_and_an_edited_file_changes_only_its_rows(client, hq):
    exported = client.get("/api/v1/registers/export.csv", headers=hq).text

    same = client.post("/api/v1/registers/import.csv", data=exported, headers=csv_headers(hq))
    assert same.status_code == 200, same.json
    assert (same.json["created"], same.json["updated"], same.json["unchanged"]) == (0, 0, 7)

    edited = exported.replace("DALLAS-2,DALLAS,false,,true", "DALLAS-2,DALLAS,true,Strict,true")
    edited += "DALLAS-4,DALLAS,true,,true\n"
    changed = client.post("/api/v1/registers/import.csv", data=edited, headers=csv_headers(hq))
    assert changed.status_code == 200, changed.json
    assert (changed.json["created"], changed.json["updated"]) == (1, 1)
    db.session.rollback()
    dallas_2 = db.session.scalar(sa.select(Register).filter_by(register_number="DALLAS-2"))
    assert dallas_2.support_offline and dallas_2.offline_profile.name == "Strict"
    names = db.session.scalars(sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE))
    assert sorted(names) == ["DALLAS-2", "DALLAS-4", "HOUSTON-1"]
    operation_id = changed.json["operation"]
    keys = db.session.scalars(
        sa.select(AuditEntry.entity_key).filter_by(
            operation_id=operation_id, entity_type="register"
        )
    ).all()
    assert sorted(set(keys)) == ["DALLAS-2", "DALLAS-4"]


def test_stores_round_trip_through_a_new_database(client, hq):
    exported = client.get("/api/v1/stores/export.csv", headers=hq).text
    renamed = exported.replace("HOUSTON,", "AUSTIN,", 1)
    answer = client.post("/api/v1/stores/import.csv", data=renamed, headers=csv_headers(hq))

    assert answer.status_code == 200, answer.json
    assert (answer.json["created"], answer.json["unchanged"]) == (1, 2)
    db.session.rollback()
    austin = db.session.scalar(sa.select(Store).filter_by(store_number="AUSTIN"))
    assert austin.channel_database is not None
    assert austin.channel_data_group.name == "Stores"


def test_dry_run_lists_every_rows_errors_at_once_and_saves_nothing(client, hq):
    before = (count(Store), count(Register), count(Operation))
    text = (
        "register_number,store,support_offline,offline_profile,active\n"
        "NEW-1,NOWHERE,true,,true\n"
        "NEW-2,HOUSTON,maybe,,true\n"
        "NEW-3,HOUSTON,false,Nope,true\n"
        "NEW-4,HOUSTON,false,,true\n"
        "NEW-4,HOUSTON,false,,true\n"
        "NOGROUP-1,NOGROUP,true,,true\n"
    )
    answer = client.post(
        "/api/v1/registers/import.csv?dry_run=true", data=text, headers=csv_headers(hq)
    )

    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert set(fields) == {
        "line 2.store",
        "line 3.support_offline",
        "line 4.offline_profile",
        "line 6.register_number",
        "line 7.support_offline",
    }
    assert "5 of 6 row(s) have errors" in answer.json["error"]["message"]
    assert (count(Store), count(Register), count(Operation)) == before


def test_valid_dry_run_counts_and_saves_nothing(client, hq):
    text = "store_number,channel_data_group\nHOUSTON,Parking\nDALLAS,Stores\n"
    answer = client.post(
        "/api/v1/stores/import.csv?dry_run=true", data=text, headers=csv_headers(hq)
    )

    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "dry_run": True,
        "rows": 2,
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "operation": None,
    }
    db.session.rollback()
    houston = db.session.scalar(sa.select(Store).filter_by(store_number="HOUSTON"))
    assert houston.channel_data_group.name == "Stores"
    assert count(Operation) == 0


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"", "line 1"),
        (b"\xff\xfe", "line 1"),
        (b"name\nx\n", "line 1.store_number"),
        (b"store_number,colour\nA,red\n", "line 1.colour"),
        (b"store_number\n", "line 2"),
        (b"store_number,name\nA\n", "line 2"),
        (b"store_number,name\nA,B\x00\n", "line 2.name"),
    ],
)
def test_files_that_cannot_be_read_are_refused_by_line(client, hq, content, field):
    answer = client.post("/api/v1/stores/import.csv", data=content, headers=csv_headers(hq))

    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"]


def test_new_registers_get_support_offline_together_each_with_its_database_and_trail(client, hq):
    text = "register_number,store,support_offline,offline_profile\n" + "".join(
        f"DALLAS-{n},DALLAS,{'true' if n % 2 else 'false'},{'Strict' if n == 5 else ''}\n"
        for n in range(4, 10)
    )

    answer = client.post("/api/v1/registers/import.csv", data=text, headers=csv_headers(hq))

    assert answer.status_code == 200, answer.json
    assert (answer.json["created"], answer.json["updated"]) == (6, 0)
    db.session.rollback()
    wanted = ["DALLAS-5", "DALLAS-7", "DALLAS-9"]
    on = db.session.scalars(
        sa.select(Register.register_number)
        .filter(Register.register_number.like("DALLAS-%"), Register.support_offline)
        .order_by(Register.register_number)
    ).all()
    assert on == wanted
    databases = db.session.scalars(
        sa.select(ChannelDatabase).filter(ChannelDatabase.name.in_(wanted + ["DALLAS-4"]))
    ).all()
    assert sorted(d.name for d in databases) == wanted
    assert {(d.kind, d.channel_data_group.name, d.active) for d in databases} == {
        (OFFLINE, "Stores", True)
    }
    trail = db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.entity_key).filter_by(
            operation_id=answer.json["operation"], entity_type="register"
        )
    ).all()
    assert sorted(key for action, key in trail if action == "create") == [
        f"DALLAS-{n}" for n in range(4, 10)
    ]
    assert sorted(key for action, key in trail if action == "enable_offline") == wanted


def test_new_registers_refused_support_offline_are_refused_at_their_lines(client, hq):
    before = (count(Register), count(ChannelDatabase), count(AuditEntry))
    text = (
        "register_number,store,support_offline\n"
        "DALLAS-4,DALLAS,true\n"
        "NOGROUP-2,NOGROUP,true\n"
        "HOUSTON,DALLAS,true\n"
        "DALLAS-5,DALLAS,false\n"
    )

    answer = client.post("/api/v1/registers/import.csv", data=text, headers=csv_headers(hq))

    assert answer.status_code == 422, answer.json
    fields = answer.json["error"]["fields"]
    # As a single switch says it: the field where it has one, else the row (a name clash).
    assert fields == {
        "line 3.support_offline": "The store has no channel data group.",
        "line 4.row": "A channel database named 'HOUSTON' already exists; store and register "
        "numbers must not clash.",
    }
    assert "2 of 4 row(s) have errors" in answer.json["error"]["message"]
    assert (count(Register), count(ChannelDatabase), count(AuditEntry)) == before
