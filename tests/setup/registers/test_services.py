"""The Support offline rule and the other register rules, against the real database."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.audit.services import set_actor
from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores
from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def offline_databases():
    return list(db.session.scalars(sa.select(ChannelDatabase).filter_by(kind=OFFLINE)))


def test_support_offline_creates_offline_database_in_store_group():
    store = StoreFactory(store_number="HOUSTON")
    register = RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")

    registers.set_support_offline(register, True)
    db.session.commit()

    (database,) = offline_databases()
    assert database.name == "HOUSTON-1"
    assert database.register is register
    assert database.store is store
    assert database.channel_data_group is store.channel_data_group
    assert database.active
    assert register.support_offline


def test_support_offline_off_deactivates_and_on_again_reuses():
    register = RegisterFactory(support_offline=True)
    (database,) = offline_databases()

    set_actor("hq@example.com", "web")
    registers.set_support_offline(register, False)
    db.session.commit()
    db.session.refresh(database)
    assert not database.active
    assert not register.support_offline
    entry = db.session.scalar(
        sa.select(AuditEntry).filter_by(entity_type="channel_database", action="deactivate")
    )
    assert entry.actor == "hq@example.com"
    assert entry.before == {"active": True} and entry.after == {"active": False}

    registers.set_support_offline(register, True)
    db.session.commit()
    assert [d.id for d in offline_databases()] == [database.id]
    assert database.active


def test_support_offline_refused_without_store_group():
    store = StoreFactory(channel_data_group=None)
    register = RegisterFactory(store=store.store_number)

    with pytest.raises(ValidationFailed, match="has no channel data group"):
        registers.set_support_offline(register, True)
    db.session.rollback()
    assert offline_databases() == []
    assert not registers.get_register(register.register_number).support_offline


def test_support_offline_refused_without_resolvable_profile():
    store = StoreFactory(offline_profile=None)
    register = RegisterFactory(store=store.store_number)

    with pytest.raises(ValidationFailed, match="no offline profile"):
        registers.set_support_offline(register, True)
    db.session.rollback()
    assert offline_databases() == []


def test_register_profile_overrides_store_default():
    store = StoreFactory(offline_profile=None)
    profile = ProfileFactory()
    register = RegisterFactory(store=store.store_number)
    registers.update_register(register, {"offline_profile": profile.name, "support_offline": True})
    db.session.commit()
    assert register.effective_offline_profile is profile
    assert len(offline_databases()) == 1


def test_offline_database_in_another_group_stays_there_when_reenabled():
    register = RegisterFactory(support_offline=True)
    offline_group = GroupFactory(name="Offline registers")
    (database,) = offline_databases()
    database.channel_data_group = offline_group
    registers.set_support_offline(register, False)
    registers.set_support_offline(register, True)
    db.session.commit()
    assert database.channel_data_group is offline_group


def test_deactivating_register_deactivates_its_offline_database():
    register = RegisterFactory(support_offline=True)
    registers.update_register(register, {"active": False})
    db.session.commit()
    (database,) = offline_databases()
    assert not database.active
    assert register.support_offline


@pytest.mark.parametrize(
    "number, message",
    [
        ("", "required"),
        ("   ", "required"),
        ("X" * 31, "too long"),
        ("BAD NUMBER", "not valid"),
        ("-LEADING", "not valid"),
        ("ÜBER-1", "not valid"),
    ],
)
def test_register_number_validation(number, message):
    store = StoreFactory()
    with pytest.raises(ValidationFailed, match=message):
        registers.create_register({"register_number": number, "store": store.store_number})


def test_register_number_unique_and_normalised():
    store = StoreFactory()
    register = RegisterFactory(register_number="houston-1", store=store.store_number)
    assert register.register_number == "HOUSTON-1"
    with pytest.raises(Conflict, match="already exists"):
        registers.create_register({"register_number": "HOUSTON-1", "store": store.store_number})


def test_register_needs_existing_store():
    with pytest.raises(ValidationFailed) as error:
        registers.create_register({"register_number": "R-1", "store": "NOWHERE"})
    assert error.value.fields == {"store": "No store 'NOWHERE'. Choose one of the stores."}


def test_register_with_offline_database_cannot_be_deleted():
    register = RegisterFactory(support_offline=True)
    registers.set_support_offline(register, False)
    with pytest.raises(Conflict, match="deactivate the register"):
        registers.delete_register(register)


def test_register_without_offline_history_can_be_deleted():
    register = RegisterFactory()
    store_number = register.store.store_number
    registers.delete_register(register)
    db.session.commit()
    assert stores.get_store(store_number).registers == []
