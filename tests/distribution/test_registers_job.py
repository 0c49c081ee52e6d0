"""Job 1090 sends each store its own registers, whole, and again after a register changes."""

import pytest

from portal.core.extensions import db
from portal.distribution import services as distribution
from portal.setup.registers import services as registers
from tests.distribution.conftest import package_lines, run_schedule, sessions_by_database
from tests.factories import ProfileFactory, RegisterFactory

pytestmark = pytest.mark.usefixtures("stores_group")


@pytest.fixture(autouse=True)
def registers_schedule(stores_group):
    """HOUSTON-1 (offline, its own profile) and HOUSTON-2; DALLAS-1; schedule 1090."""
    ProfileFactory(name="Night shift")
    RegisterFactory(
        register_number="HOUSTON-1",
        store="HOUSTON",
        support_offline=True,
        offline_profile="Night shift",
    )
    RegisterFactory(register_number="HOUSTON-2", store="HOUSTON")
    RegisterFactory(register_number="DALLAS-1", store="DALLAS")
    distribution.create_schedule(
        {"code": "1090", "name": "Registers", "jobs": ["1090"], "groups": ["Stores"]}
    )
    db.session.commit()


def register_rows(session) -> dict[str, dict]:
    lines = package_lines(session)["register"]
    assert all(line["op"] == "upsert" for line in lines)
    return {line["row"]["register_number"]: line["row"] for line in lines}


def test_each_database_gets_its_own_stores_registers_whole():
    sessions = sessions_by_database(run_schedule("1090"))

    houston = register_rows(sessions["HOUSTON"])
    assert set(houston) == {"HOUSTON-1", "HOUSTON-2"}
    assert houston["HOUSTON-1"] == {
        "register_number": "HOUSTON-1",
        "store_number": "HOUSTON",
        "support_offline": "t",
        "active": "t",
        "offline_profile": "Night shift",
    }
    assert houston["HOUSTON-2"]["offline_profile"] is None
    assert set(register_rows(sessions["DALLAS"])) == {"DALLAS-1"}
    assert set(register_rows(sessions["SEATTLE"])) == set()
    # The offline database of HOUSTON-1 knows its store's registers too.
    assert set(register_rows(sessions["HOUSTON-1"])) == {"HOUSTON-1", "HOUSTON-2"}
    assert sessions["HOUSTON"].kind == "full"


def test_a_changed_register_reaches_its_store_in_the_next_run_and_nothing_else_is_rebuilt():
    first = sessions_by_database(run_schedule("1090"))
    same_run = run_schedule("1090")
    same = sessions_by_database(same_run)
    elsewhere = RegisterFactory(register_number="SEATTLE-1", store="SEATTLE")
    db.session.commit()
    seattle_only = sessions_by_database(run_schedule("1090"))

    registers.update_register(registers.get_register("HOUSTON-2"), {"active": False})
    RegisterFactory(register_number="HOUSTON-3", store="HOUSTON")
    db.session.commit()
    changed = sessions_by_database(run_schedule("1090"))

    # Nothing changed in between: no target is sent the same registers again, nor kept a row.
    assert same == {} and same_run.sessions_no_data == len(first)
    # A register of another store: only that store's database gets a package.
    assert set(seattle_only) == {"SEATTLE"} and elsewhere.store.store_number == "SEATTLE"
    assert set(register_rows(seattle_only["SEATTLE"])) == {"SEATTLE-1"}
    assert "DALLAS" not in changed
    houston = register_rows(changed["HOUSTON"])
    assert set(houston) == {"HOUSTON-1", "HOUSTON-2", "HOUSTON-3"}
    assert houston["HOUSTON-2"]["active"] == "f"
    assert changed["HOUSTON"].package_id != first["HOUSTON"].package_id
