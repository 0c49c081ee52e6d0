"""Every list searches the same way: anywhere in a value, any case, wildcards taken literally."""

from portal.core.extensions import db
from portal.setup.stores import services as stores
from tests.factories import StoreFactory


def found(q: str) -> list[str]:
    return [store.store_number for store in db.session.scalars(stores.stores_query(q))]


def test_text_matches_inside_numbers_and_names_in_any_case(app_ctx):
    StoreFactory(store_number="HOUSTON", name="Houston Galleria")
    StoreFactory(store_number="DALLAS", name="Dallas 100% Outlet")
    assert found("galler") == ["HOUSTON"]
    assert found("  ousto ") == ["HOUSTON"]
    assert found("") == found(None) == ["DALLAS", "HOUSTON"]


def test_percent_underscore_and_backslash_mean_themselves(app_ctx):
    StoreFactory(store_number="A_1", name="Under\\score")
    StoreFactory(store_number="AB1", name="Dallas 100% Outlet")
    assert found("A_1") == ["A_1"]
    assert found("100%") == ["AB1"]
    assert found("%") == ["AB1"]
    assert found("r\\s") == ["A_1"]
    assert found("_") == ["A_1"]
