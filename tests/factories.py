"""factory_boy factories that build setup data through the services, so every rule holds."""

import factory
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.masterdata.references import STORE_REFERENCES
from portal.setup.channels import services as channels
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores


class _ServiceFactory(factory.Factory):
    """Create through a service function and commit, as a request would."""

    class Meta:
        model = dict
        abstract = True

    @classmethod
    def _create(cls, model_class, **kwargs):
        created = cls.service(kwargs)
        db.session.commit()
        return created


class GroupFactory(_ServiceFactory):
    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Group {n}")
    description = "Test group"

    @staticmethod
    def service(data):
        return channels.create_group(data["name"], data["description"])


class ProfileFactory(_ServiceFactory):
    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Profile {n}")
    offline_timeout_s = 20
    reconnect_interval_min = 5

    @staticmethod
    def service(data):
        return offline_profiles.create_profile(data)


class StoreFactory(_ServiceFactory):
    class Meta:
        model = dict

    store_number = factory.Sequence(lambda n: f"STORE{n}")
    name = factory.Faker("city")
    currency = "USD"
    tax_group = "TX"
    time_zone = "America/Chicago"
    channel_data_group = factory.LazyFunction(lambda: GroupFactory().name)
    offline_profile = factory.LazyFunction(lambda: ProfileFactory().name)

    @staticmethod
    def service(data):
        for field, reference in STORE_REFERENCES.items():
            if data.get(field):
                ensure_master_data(reference.model, data[field])
        return stores.create_store(data)


def ensure_master_data(model, code: str) -> None:
    """Add a master data row a store may name, unless it is there: stores name live rows only."""
    if db.session.scalar(sa.select(model.id).filter_by(code=code)) is None:
        db.session.add(model(code=code, name=f"{code} (test)"))
        db.session.flush()


class RegisterFactory(_ServiceFactory):
    class Meta:
        model = dict

    register_number = factory.Sequence(lambda n: f"REG-{n}")
    store = factory.LazyFunction(lambda: StoreFactory().store_number)
    support_offline = False
    # As if its device had activated: offline databases receive nothing before that.
    activated = True

    @staticmethod
    def service(data):
        activated = data.pop("activated")
        register = registers.create_register(data)
        if activated and register.offline_database is not None:
            register.offline_database.activated_at = utcnow()
        return register
