"""A device polling with nothing new costs little: the package list answers 304 to its ETag."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from werkzeug.test import Client

from portal.core.extensions import db
from portal.device_api.credentials import LAST_USED_GRANULARITY
from portal.device_api.models import DeviceToken
from tests.device_api.conftest import API, database_named, device_of
from tests.device_api.test_packages import change_texas_rate
from tests.distribution.conftest import run_schedule

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")

AVAILABLE = f"{API}/packages?status=available"


@pytest.fixture
def houston(client):
    """The headers of HOUSTON's activated store server, its first full package built."""
    return device_of(client, "HOUSTON")


def check(client, headers, etag: str | None = None):
    """The package check a device sends, with the ETag of its last answer if it has one."""
    return client.get(AVAILABLE, headers={**headers, **({"If-None-Match": etag} if etag else {})})


def test_an_unchanged_package_list_answers_304_to_its_etag_without_a_body(client, houston):
    first = check(client, houston)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag and len(first.json["items"]) == 1

    again = check(client, houston, etag)

    assert again.status_code == 304
    assert again.data == b""


def test_a_new_package_or_a_changed_status_changes_the_etag(client, houston):
    etag = check(client, houston).headers["ETag"]
    change_texas_rate("6.75")
    run_schedule()

    changed = check(client, houston, etag)

    assert changed.status_code == 200
    assert len(changed.json["items"]) == 2
    assert changed.headers["ETag"] != etag
    etag = changed.headers["ETag"]
    first = changed.json["items"][0]["id"]
    applied = client.post(
        f"{API}/packages/{first}/status", json={"status": "applied"}, headers=houston
    )
    assert applied.status_code == 200, applied.text

    after = check(client, houston, etag)

    assert after.status_code == 200
    assert [item["id"] for item in after.json["items"]] != [first]
    assert after.headers["ETag"] != etag
    assert check(client, houston, after.headers["ETag"]).status_code == 304


def test_the_token_s_last_use_is_written_once_an_hour_not_on_every_request(client, houston):
    token = db.session.scalar(
        sa.select(DeviceToken).filter_by(channel_database_id=database_named("HOUSTON").id)
    )
    assert check(client, houston).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at is not None

    within_the_hour = token.last_used_at - LAST_USED_GRANULARITY + timedelta(minutes=5)
    token.last_used_at = within_the_hour
    db.session.commit()
    assert check(client, houston).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at == within_the_hour

    token.last_used_at = within_the_hour - timedelta(minutes=10)
    db.session.commit()
    assert check(client, houston).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at > within_the_hour


def test_each_page_and_filter_has_its_own_etag(client, houston):
    change_texas_rate("6.75")
    run_schedule()
    first = client.get(f"{API}/packages?status=all&limit=1", headers=houston)
    assert first.status_code == 200 and first.json["next"]
    page = f"{API}/packages?status=all&limit=1&cursor={first.json['next']}"
    second = client.get(page, headers=houston)
    assert second.status_code == 200 and len(second.json["items"]) == 1
    assert second.headers["ETag"] != first.headers["ETag"]

    again = client.get(page, headers={**houston, "If-None-Match": second.headers["ETag"]})
    other_page = {**houston, "If-None-Match": first.headers["ETag"]}

    assert again.status_code == 304
    assert client.get(page, headers=other_page).status_code == 200
    assert check(client, houston, first.headers["ETag"]).status_code == 200


def test_a_revoked_token_is_401_even_with_the_list_s_etag(client, houston):
    etag = check(client, houston).headers["ETag"]
    db.session.execute(sa.update(DeviceToken).values(revoked_at=sa.func.now()))
    db.session.commit()

    refused = check(client, houston, etag)

    assert refused.status_code == 401
    assert (
        client.post(
            f"{API}/status", json={"mode": "online", "pending_uploads": 0}, headers=houston
        ).status_code
        == 401
    )


def test_the_package_check_reads_outside_a_transaction_and_the_heartbeat_inside_one(
    app, client, houston
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no reads outside a transaction to speak of")
    # The app's own routes, behind the lane that answers routine polls in front of it.
    client = Client(app.wsgi_app.wsgi_app, app.response_class)
    seen = []

    def note_transaction(connection, *_):
        seen.append(connection.connection.dbapi_connection.info.transaction_status)

    db.session.execute(sa.update(DeviceToken).values(last_used_at=None))
    db.session.commit()  # a request begins with no transaction open, as in production
    sa.event.listen(db.engine, "after_cursor_execute", note_transaction)
    try:
        assert check(client, houston).status_code == 200
        during_check = list(seen)
        # The token's last use, due, was written outside the transaction and kept.
        stamped = db.session.scalar(sa.select(DeviceToken.last_used_at))
        db.session.rollback()
        seen.clear()
        heartbeat = client.post(
            f"{API}/status", json={"mode": "online", "pending_uploads": 0}, headers=houston
        )
        assert heartbeat.status_code == 200, heartbeat.text
        during_heartbeat = list(seen)
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", note_transaction)

    # The check's autocommit did not outlive it: the heartbeat after it has a transaction.
    assert during_check and set(during_check) == {TransactionStatus.IDLE}
    assert during_heartbeat and set(during_heartbeat) == {TransactionStatus.INTRANS}
    assert stamped is not None
