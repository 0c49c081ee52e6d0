"""Channel data group and channel database rules."""

import pytest

from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.setup.channels import services as channels
from tests.factories import GroupFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_group_with_databases_cannot_be_deleted():
    store = StoreFactory()
    with pytest.raises(Conflict, match="still has 1 channel database"):
        channels.delete_group(store.channel_data_group)


def test_empty_group_can_be_deleted():
    group = GroupFactory()
    channels.delete_group(group)
    db.session.commit()
    assert db.session.get(type(group), group.id) is None


def test_group_names_are_unique():
    GroupFactory(name="Parking")
    with pytest.raises(Conflict):
        channels.create_group("Parking")


def test_offline_database_can_move_to_parking_group():
    register = RegisterFactory(support_offline=True)
    parking = GroupFactory(name="Parking")
    channels.update_database(register.offline_database, {"channel_data_group": "Parking"})
    db.session.commit()
    assert register.offline_database.channel_data_group is parking


def test_database_kind_cannot_be_edited():
    store = StoreFactory()
    with pytest.raises(ValidationFailed, match="Only the channel data group"):
        channels.update_database(store.channel_database, {"kind": "offline"})


def test_register_number_clashing_with_store_database_name_is_refused():
    store = StoreFactory(store_number="DALLAS")
    from portal.setup.registers import services as registers

    register = registers.create_register({"register_number": "DALLAS", "store": "DALLAS"})
    with pytest.raises(Conflict, match="must not clash"):
        registers.set_support_offline(register, True)
    assert store.channel_database.name == "DALLAS"


def test_group_description_too_long_is_refused():
    with pytest.raises(ValidationFailed) as error:
        channels.create_group("Long", "x" * 256)
    assert error.value.fields == {"description": "At most 255 characters."}
    group = GroupFactory()
    with pytest.raises(ValidationFailed):
        channels.update_group(group, {"description": "y" * 300})
