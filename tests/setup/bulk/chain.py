"""A small chain for bulk changes, made through the services (tests/factories)."""

from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory


def small_chain() -> None:
    """Stores HOUSTON and DALLAS (group Stores, profile Standard) with 3 registers each, and
    NOGROUP (no group, no profile) with 1; HOUSTON-1 supports offline, its device activated."""
    GroupFactory(name="Stores")
    GroupFactory(name="Parking")
    ProfileFactory(name="Standard")
    ProfileFactory(name="Strict")
    for store in ("HOUSTON", "DALLAS"):
        StoreFactory(store_number=store, channel_data_group="Stores", offline_profile="Standard")
        for n in (1, 2, 3):
            RegisterFactory(
                register_number=f"{store}-{n}",
                store=store,
                support_offline=(store, n) == ("HOUSTON", 1),
            )
    StoreFactory(store_number="NOGROUP", channel_data_group=None, offline_profile=None)
    RegisterFactory(register_number="NOGROUP-1", store="NOGROUP")
