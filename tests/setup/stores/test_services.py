"""Store rules: the channel database comes with the store; deletion and validation."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.setup.models import CHANNEL, ChannelDatabase
from portal.setup.stores import services as stores
from tests.factories import GroupFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_creating_store_creates_its_channel_database_in_the_chosen_group():
    group = GroupFactory(name="Stores")
    store = StoreFactory(store_number="houston", channel_data_group="Stores")

    database = db.session.scalar(sa.select(ChannelDatabase).filter_by(store_id=store.id))
    assert store.store_number == "HOUSTON"
    assert database.kind == CHANNEL
    assert database.name == "HOUSTON"
    assert database.channel_data_group is group
    assert store.channel_database is database
    actions = set(db.session.scalars(sa.select(AuditEntry.entity_type)))
    assert {"store", "channel_database"} <= actions


def test_changing_store_group_moves_its_channel_database():
    store = StoreFactory()
    other = GroupFactory()
    stores.update_store(store, {"channel_data_group": other.name})
    db.session.commit()
    assert store.channel_database.channel_data_group is other


def test_store_validation_reports_every_bad_field():
    with pytest.raises(ValidationFailed) as error:
        stores.create_store(
            {
                "store_number": "NEW",
                "name": "",
                "currency": "dollars",
                "tax_group": "TX",
                "time_zone": "Mars/Olympus",
                "channel_data_group": "No such group",
            }
        )
    assert set(error.value.fields) == {"name", "currency", "time_zone", "channel_data_group"}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelDatabase)) == 0


@pytest.mark.parametrize("number", ["", "A B", "x" * 21, "/etc"])
def test_store_number_validation(number):
    with pytest.raises(ValidationFailed):
        StoreFactory(store_number=number)


def test_store_number_unique():
    StoreFactory(store_number="SEATTLE")
    with pytest.raises(Conflict):
        StoreFactory(store_number="seattle")


def test_store_number_is_fixed():
    store = StoreFactory()
    with pytest.raises(ValidationFailed, match="cannot be changed"):
        stores.update_store(store, {"store_number": "OTHER"})


def test_store_with_registers_cannot_be_deleted():
    register = RegisterFactory()
    with pytest.raises(Conflict, match="still has 1 register"):
        stores.delete_store(register.store)


def test_deleting_store_removes_its_channel_database():
    store = StoreFactory()
    stores.delete_store(store)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelDatabase)) == 0
    with pytest.raises(NotFound):
        stores.get_store(store.store_number)
