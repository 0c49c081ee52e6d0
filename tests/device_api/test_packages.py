"""Listing and downloading packages: only the device's own, resumable, checked by SHA-256."""

import hashlib
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.core.extensions import db
from portal.distribution import retention
from portal.distribution.package_files import read_package
from portal.masterdata.tax import TaxCode, TaxRate
from tests.device_api.conftest import API, device_of, legacy_no_data_session, sessions_of
from tests.distribution.conftest import run_schedule

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")


@pytest.fixture
def houston(client):
    """The headers of HOUSTON's activated store server, its first full package built."""
    return device_of(client, "HOUSTON")


def change_texas_rate(rate: str) -> None:
    """Change the Texas rate, so the next run gives the Texas stores an incremental package."""
    db.session.scalar(sa.select(TaxRate).filter_by(tax_code="TX-STATE")).rate = Decimal(rate)
    db.session.commit()


def listed(client, headers, query: str = "") -> list[dict]:
    response = client.get(f"{API}/packages{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json["items"]


def content(client, headers, session_id: int, extra: dict | None = None, buffered=True):
    """Fetch a package's file; the answer's body is read (and the file closed) unless unbuffered."""
    return client.get(
        f"{API}/packages/{session_id}/content",
        headers={**headers, **(extra or {})},
        buffered=buffered,
    )


def status_of(session_id: int) -> str:
    db.session.expire_all()
    return next(s.status for s in sessions_of("HOUSTON") if s.id == session_id)


def error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert set(response.json["error"]) == {"code", "message", "fields"}
    return response.json["error"]


def test_available_packages_are_listed_in_apply_order_with_their_file_facts(client, houston):
    change_texas_rate("6.75")
    run_schedule()

    response = client.get(f"{API}/packages", headers=houston)

    assert response.status_code == 200
    assert response.json["next"] is None
    sessions = sessions_of("HOUSTON")
    assert [item["id"] for item in response.json["items"]] == [s.id for s in sessions]
    full, incremental = response.json["items"]
    assert (full["kind"], incremental["kind"]) == ("full", "incremental")
    for item, session in zip(response.json["items"], sessions, strict=True):
        package = session.package
        assert item == {
            "id": session.id,
            "job": "1080",
            "kind": session.kind,
            "status": "available",
            "sha256": package.sha256,
            "size": package.size,
            "row_counts": package.row_counts,
            "base_version": session.base_version,
            "new_version": session.new_version,
            "available_at": package.created_at.isoformat(),
        }
    assert incremental["base_version"] == full["new_version"]
    assert incremental["row_counts"]["tax_rate"] == 1


def test_the_list_holds_only_the_devices_own_packages(client, houston):
    change_texas_rate("6.75")
    run = run_schedule()
    assert run.sessions_total == 3  # DALLAS and SEATTLE got sessions of the same run

    ids = {item["id"] for item in listed(client, houston, "?status=all")}

    assert ids == {s.id for s in sessions_of("HOUSTON")}


def test_status_filters_and_pages(client, houston):
    change_texas_rate("6.75")
    run_schedule()
    change_texas_rate("7.00")
    run_schedule()
    first, second, third = (s.id for s in sessions_of("HOUSTON"))
    applied = client.post(
        f"{API}/packages/{first}/status", json={"status": "applied"}, headers=houston
    )
    assert applied.status_code == 200

    assert [i["id"] for i in listed(client, houston)] == [second, third]
    assert [i["id"] for i in listed(client, houston, "?status=available")] == [second, third]
    assert [i["id"] for i in listed(client, houston, "?status=applied")] == [first]
    assert [i["id"] for i in listed(client, houston, "?status=all")] == [first, second, third]

    page = client.get(f"{API}/packages?status=all&limit=2", headers=houston).json
    assert [i["id"] for i in page["items"]] == [first, second]
    rest = client.get(f"{API}/packages?status=all&cursor={page['next']}", headers=houston).json
    assert [i["id"] for i in rest["items"]] == [third] and rest["next"] is None


def test_no_data_sessions_are_not_listed(client, houston):
    run = run_schedule()  # nothing changed: counted on the run, no session kept
    assert [s for s in sessions_of("HOUSTON") if s.run_id == run.id] == []
    assert run.sessions_no_data > 0
    legacy_no_data_session(sessions_of("HOUSTON")[-1])
    assert len(listed(client, houston, "?status=all")) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=pending", "status"),
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?limit=many", "limit"),
        ("?cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_list_arguments_are_422_naming_them(client, houston, query, field):
    response = client.get(f"{API}/packages{query}", headers=houston)
    assert set(error(response, 422)["fields"]) == {field}


# --- Downloading -----------------------------------------------------------------------------


def test_full_download_matches_the_sha256_and_marks_the_session_downloaded(client, houston):
    (item,) = listed(client, houston)

    response = content(client, houston, item["id"])

    assert response.status_code == 200
    body = response.get_data()
    assert hashlib.sha256(body).hexdigest() == item["sha256"]
    assert len(body) == item["size"] == int(response.headers["Content-Length"])
    assert response.headers["ETag"] == f'"{item["sha256"]}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.mimetype == "application/zip"
    assert status_of(item["id"]) == "downloaded"
    (package_file := Path(current_app.config["PACKAGE_STORE"]) / "download.zip").write_bytes(body)
    manifest, tables = read_package(package_file)
    assert manifest["job"] == "1080" and manifest["kind"] == "full"
    assert [line["key"]["code"] for line in tables["sales_tax_group"]] == ["TX"]
    assert listed(client, houston)[0]["status"] == "downloaded"


def test_range_resume_gives_the_same_bytes_and_marks_downloaded_only_at_the_end(client, houston):
    (item,) = listed(client, houston)
    size = item["size"]

    head = content(client, houston, item["id"], {"Range": "bytes=0-99"})
    assert head.status_code == 206
    assert head.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert status_of(item["id"]) == "available"  # only part of the file went out

    tail = content(client, houston, item["id"], {"Range": "bytes=100-"})
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes 100-{size - 1}/{size}"

    joined = head.get_data() + tail.get_data()
    whole = content(client, houston, item["id"]).get_data()
    assert joined == whole
    assert hashlib.sha256(joined).hexdigest() == item["sha256"]
    assert status_of(item["id"]) == "downloaded"


def test_resume_only_if_the_file_is_still_the_same(client, houston):
    (item,) = listed(client, houston)
    ranged = {"Range": "bytes=100-"}

    same = content(client, houston, item["id"], {**ranged, "If-Range": f'"{item["sha256"]}"'})
    other = content(client, houston, item["id"], {**ranged, "If-Range": '"0000"'})

    assert same.status_code == 206
    assert other.status_code == 200 and len(other.get_data()) == item["size"]


@pytest.fixture
def bulky(app_ctx, stores_group):
    """Enough tax codes for a package of many chunks, so a download can stop midway."""
    db.session.add_all(TaxCode(code=f"C{n:04}", name=uuid.uuid4().hex) for n in range(1500))
    db.session.commit()


@pytest.mark.usefixtures("bulky")
def test_a_download_cut_off_midway_leaves_the_session_available(client, houston):
    (item,) = listed(client, houston)
    assert item["size"] > 3 * 8192

    cut = content(client, houston, item["id"], buffered=False)
    received = next(iter(cut.response))
    cut.close()

    assert 0 < len(received) < item["size"]
    assert status_of(item["id"]) == "available"
    resumed = content(client, houston, item["id"], {"Range": f"bytes={len(received)}-"})
    assert hashlib.sha256(received + resumed.get_data()).hexdigest() == item["sha256"]
    assert status_of(item["id"]) == "downloaded"


def test_if_none_match_answers_304_without_a_body_or_marking(client, houston):
    (item,) = listed(client, houston)
    etag = f'"{item["sha256"]}"'

    unchanged = content(client, houston, item["id"], {"If-None-Match": etag})
    other = content(client, houston, item["id"], {"If-None-Match": '"abc"'})

    assert unchanged.status_code == 304
    assert unchanged.get_data() == b"" and unchanged.headers["ETag"] == etag
    assert other.status_code == 200 and len(other.get_data()) == item["size"]


def test_head_sends_no_body_and_marks_nothing(client, houston):
    (item,) = listed(client, houston)

    response = client.head(f"{API}/packages/{item['id']}/content", headers=houston, buffered=True)

    assert response.status_code == 200 and response.get_data() == b""
    assert int(response.headers["Content-Length"]) == item["size"]
    assert status_of(item["id"]) == "available"


@pytest.mark.parametrize("ranges", ["bytes=999999-", "bytes=abc", "items=0-1"])
def test_an_unsatisfiable_range_is_416(client, houston, ranges):
    (item,) = listed(client, houston)
    response = content(client, houston, item["id"], {"Range": ranges})
    assert error(response, 416)["code"] == "requested_range_not_satisfiable"
    # The client learns the size, to resume from a valid offset.
    assert response.headers["Content-Range"] == f"bytes */{item['size']}"
    assert status_of(item["id"]) == "available"


def test_fetching_again_does_not_undo_a_later_status(client, houston):
    change_texas_rate("6.75")
    run_schedule()
    first, second = (item["id"] for item in listed(client, houston))
    report = f"{API}/packages/{{}}/status"
    applied = {"status": "applied"}
    failed = {"status": "apply_failed", "message": "locked"}
    assert client.post(report.format(first), json=applied, headers=houston).status_code == 200
    assert client.post(report.format(second), json=failed, headers=houston).status_code == 200

    for session_id in (first, second):
        assert content(client, houston, session_id).status_code == 200

    # The failed one is offered again (one try of three used): fetching it keeps it so.
    assert (status_of(first), status_of(second)) == ("applied", "downloaded")


# --- What a device may not fetch ---------------------------------------------------------------


def test_another_databases_package_is_404_as_if_it_did_not_exist(client, houston):
    change_texas_rate("6.75")
    run_schedule()
    (dallas, *_) = sessions_of("DALLAS")

    fetched = content(client, houston, dallas.id)
    reported = client.post(
        f"{API}/packages/{dallas.id}/status", json={"status": "applied"}, headers=houston
    )
    unknown = content(client, houston, 999999)
    beyond = content(client, houston, 2**40)

    assert error(fetched, 404)["message"] == f"Package {dallas.id} does not exist."
    assert error(reported, 404)["message"] == f"Package {dallas.id} does not exist."
    assert error(unknown, 404)["message"] == "Package 999999 does not exist."
    # Beyond the integer ids the URL itself matches nothing.
    assert error(beyond, 404)["code"] == "not_found"
    db.session.expire_all()
    assert dallas.status == "available"


def test_a_package_removed_by_retention_is_404(client, houston):
    (item,) = listed(client, houston)
    applied = client.post(
        f"{API}/packages/{item['id']}/status", json={"status": "applied"}, headers=houston
    )
    assert applied.status_code == 200
    assert retention.clean_packages(timedelta(0)) == 1
    db.session.commit()

    response = content(client, houston, item["id"])

    assert "removed by retention" in error(response, 404)["message"]


def test_a_session_without_a_package_has_no_content(client, houston):
    no_data = legacy_no_data_session(sessions_of("HOUSTON")[-1])

    response = content(client, houston, no_data.id)

    assert "has no file" in error(response, 404)["message"]
