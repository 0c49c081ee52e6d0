"""Packages in object storage: atomic writes, presigned resumable downloads, retention there too.

Against a real S3 API on loopback (moto's server mode).
"""

import hashlib
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from werkzeug.serving import make_server

from portal.agent import sync
from portal.agent.client import PortalClient
from portal.core.extensions import db
from portal.distribution import retention
from portal.distribution.storage import PARTIALS, S3Store
from tests.distribution.conftest import run_schedule, sessions_by_database
from tests.s3_server import BUCKET, PREFIX, keys
from tests.transactions.conftest import device_headers

ROOT = Path(__file__).resolve().parents[2]


def object_bytes(client, relative: str) -> bytes:
    """The bytes of a package's object."""
    return client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{relative}")["Body"].read()


def test_packages_are_written_to_the_bucket_under_their_content_name(s3, stores_group):
    run = run_schedule()
    packages = {s.package for s in sessions_by_database(run).values()}
    assert len(packages) == 2  # Texas and Washington
    assert keys(s3) == sorted(f"{PREFIX}/{p.path}" for p in packages)
    for package in packages:
        assert package.path == f"{package.content_key[:2]}/{package.content_key}.zip"
        body = object_bytes(s3, package.path)
        assert len(body) == package.size
        assert hashlib.sha256(body).hexdigest() == package.sha256


def test_devices_download_through_a_presigned_url_and_report_it(
    app,
    client,
    s3,
    stores_group,
):
    session = sessions_by_database(run_schedule())["HOUSTON"]
    headers = device_headers(session.channel_database)
    content = f"/api/v1/device/packages/{session.id}/content"

    answer = client.get(content, headers=headers)
    assert answer.status_code == 302
    url = answer.headers["Location"]
    assert url.startswith(f"{s3.endpoint}/{BUCKET}/{PREFIX}/") and "X-Amz-Signature=" in url
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).hexdigest() == session.package.sha256
    tail = httpx.get(url, headers={"Range": "bytes=100-"})
    assert tail.status_code == 206 and tail.content == whole.content[100:]
    # HQ saw none of those bytes: the session waits for the device's word.
    db.session.refresh(session)
    assert session.status == "available"

    report = client.post(
        f"/api/v1/device/packages/{session.id}/status",
        json={"status": "downloaded"},
        headers=headers,
    )
    assert report.status_code == 200 and report.json["status"] == "downloaded"
    again = client.post(
        f"/api/v1/device/packages/{session.id}/status",
        json={"status": "downloaded"},
        headers=headers,
    )
    assert again.status_code == 200 and again.json["status"] == "downloaded"

    # An object gone from the bucket behind HQ's back is a clear 404, not a dead link.
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{session.package.path}")
    gone = client.get(content, headers=headers)
    assert gone.status_code == 404 and "removed" in gone.json["error"]["message"]


@pytest.fixture
def served(app):
    """The test app (on the bucket) served on a free loopback port, for a real agent."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_the_agent_resumes_a_download_from_the_bucket(
    app,
    s3,
    stores_group,
    served,
    tmp_path,
):
    session = sessions_by_database(run_schedule())["HOUSTON"]
    headers = device_headers(session.channel_database)
    package = session.package
    body = object_bytes(s3, package.path)
    # A download cut off half-way, as a dropped connection leaves it.
    (tmp_path / f"{session.id}.zip.partial").write_bytes(body[: len(body) // 2])
    said = []
    item = {"id": session.id, "sha256": package.sha256, "size": package.size}

    with PortalClient(served, headers["Authorization"].split()[1]) as agent:
        final = sync.download(agent, tmp_path, item, said.append)

    assert final.read_bytes() == body
    assert said == [f"Resuming the download of package {session.id} at byte {len(body) // 2}."]
    db.session.refresh(session)
    assert session.status == "downloaded"


KILLED_UPLOAD = """
import os, signal, sys
from pathlib import Path
from portal.distribution.storage import S3Store

store = S3Store(sys.argv[1], sys.argv[2])
sent = 0

def kill_half_way(count):
    global sent
    sent += count
    if sent > 6 * 1024 * 1024:
        os.kill(os.getpid(), signal.SIGKILL)

store.publish("ab/abcdef.zip", Path(sys.argv[3]), callback=kill_half_way)
"""


def test_a_build_killed_mid_upload_leaves_nothing_under_a_final_key(app_ctx, s3, tmp_path):
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(20 * 1024 * 1024))  # past boto3's multipart threshold
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_UPLOAD, f"s3://{BUCKET}/{PREFIX}", s3.endpoint, str(big)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()

    store = S3Store(f"s3://{BUCKET}/{PREFIX}", s3.endpoint)
    assert not store.exists("ab/abcdef.zip")
    assert [k for k in keys(s3) if f"/{PARTIALS}/" not in k] == []
    debris = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"{PREFIX}/{PARTIALS}/")
    assert len(debris.get("Uploads", [])) == 1

    # Retention's sweep (moto dates every multipart upload 2010, so any age will do here).
    assert store.remove_abandoned_partials(timedelta(0)) == 1
    debris = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"{PREFIX}/{PARTIALS}/")
    assert debris.get("Uploads", []) == []
    assert keys(s3) == []


def test_retention_deletes_from_the_bucket(s3, stores_group):
    run = run_schedule()
    sessions = sessions_by_database(run)
    texas, washington = sessions["HOUSTON"].package, sessions["SEATTLE"].package
    for name in ("HOUSTON", "SEATTLE"):
        sessions[name].status = "applied"
    db.session.commit()

    assert retention.clean_packages(timedelta(0)) == 1
    db.session.commit()

    assert keys(s3) == [f"{PREFIX}/{texas.path}"]
    assert washington.removed_at is not None
