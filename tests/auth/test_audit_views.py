"""The audit trail browser: newest first, filters, pagination, before and after side by side."""

import re

import sqlalchemy as sa

from portal.audit import services as audit
from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.setup.stores import services as stores
from tests.factories import StoreFactory

ROW = re.compile(r'href="/audit/(\d+)"')


def record(app, actor: str, source: str, action: str, entity_type: str, key: str, **values):
    """Add an audit entry as `actor` would have caused it; returns its id."""
    with app.app_context():
        audit.set_actor(actor, source)
        entry = audit.record(action, entity_type, key, values.get("before"), values.get("after"))
        db.session.commit()
        return entry.id


def listed(client, query: str = "") -> list[int]:
    """The ids of the entries a list page shows, in order."""
    return [int(n) for n in ROW.findall(client.get(f"/audit/{query}").get_data(as_text=True))]


def test_entries_are_listed_newest_first(app, client, login):
    login("admin")
    first = record(app, "a@example.com", "web", "create", "store", "HOUSTON", after={"n": 1})
    second = record(app, "b@example.com", "api", "update", "store", "HOUSTON", after={"n": 2})

    assert listed(client)[:2] == [second, first]


def test_filters_by_entity_type_source_and_search(app, client, login):
    login("admin")
    store = record(app, "hq@example.com", "web", "create", "store", "HOUSTON", after={})
    register = record(app, "hq@example.com", "api", "create", "register", "HOUSTON-1", after={})
    by_cli = record(app, "cli", "cli", "create", "channel_data_group", "Stores", after={})

    assert listed(client, "?entity_type=register") == [register]
    assert listed(client, "?source=cli") == [by_cli]
    assert set(listed(client, "?q=houston")) == {store, register}
    assert listed(client, "?q=houston&source=web&entity_type=store") == [store]
    page = client.get("/audit/").get_data(as_text=True)
    assert '<option value="channel_data_group"' in page


def test_search_matches_the_actor(app, client, login):
    login("admin")
    ours = record(app, "harper@example.com", "web", "delete", "store", "X", before={"name": "X"})
    record(app, "sam@example.com", "web", "delete", "store", "Y", before={"name": "Y"})

    assert listed(client, "?q=HARPER") == [ours]


def test_list_is_paginated(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    login("admin")
    ids = [
        record(app, "x@example.com", "web", "create", "store", f"S{n}", after={}) for n in range(3)
    ]

    assert listed(client, "?entity_type=store") == [ids[2], ids[1]]
    assert listed(client, "?entity_type=store&page=2") == [ids[0]]


def test_detail_shows_before_and_after_side_by_side(app, client, login):
    login("admin")
    with app.app_context():
        audit.set_actor("hq@example.com", "web")
        store = StoreFactory(store_number="HOUSTON", name="Houston Galleria")
        stores.update_store(store, {"name": "Houston Downtown"})
        db.session.commit()
        entry_id = db.session.scalar(
            sa.select(AuditEntry.id).filter_by(entity_type="store", action="update")
        )

    page = client.get(f"/audit/{entry_id}").get_data(as_text=True)
    listing = client.get("/audit/?entity_type=store").get_data(as_text=True)

    row = re.search(r"<tr[^>]*>\s*<th[^>]*>name</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", page)
    assert row.groups() == ("Houston Galleria", "Houston Downtown")
    assert "hq@example.com" in page and "HOUSTON" in page
    assert "<details>" in listing and "Houston Downtown" in listing


def test_unknown_entry_is_404(client, login):
    login("admin")
    assert client.get("/audit/999999").status_code == 404


def test_user_administration_is_in_the_trail(app, client, login):
    admin = login("admin")
    client.post(
        "/users/new",
        data={
            "email": "new@example.com",
            "role": "auditor",
            "password": "a-long-password",
            "confirm": "a-long-password",
        },
    )

    page = client.get("/audit/?entity_type=user&q=new@example.com").get_data(as_text=True)

    assert "new@example.com" in page and admin in page and "auditor" in page


def test_only_admins_read_the_trail(app, client, login):
    record(app, "x@example.com", "web", "create", "store", "SECRET", after={})
    login("hq")

    response = client.get("/audit/")

    assert response.status_code == 403
    assert "SECRET" not in response.get_data(as_text=True)
