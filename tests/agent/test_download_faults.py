"""Downloads a device gives up on: HQ hears of each, offers the package again, then ends it.

The real agent against the live portal: a package file damaged at HQ fails its SHA-256 check,
and a download through a proxy on loopback (tests/agent/faulty.py) that sends only part of each
answer's body and hangs up, as a connection lost mid-download does, is resumed from the bytes
received until the agent's retries are used up. Each is reported as a failed download.
"""

from pathlib import Path

from portal.core.extensions import db
from portal.distribution import lifecycle, sessions
from portal.distribution.models import (
    SESSION_APPLIED,
    SESSION_AVAILABLE,
    SESSION_DOWNLOAD_FAILED,
)
from tests.agent.portal import package_file
from tests.device_api.conftest import sessions_of


def test_a_download_cut_every_time_is_reported_and_ends_download_failed(agent, activated, proxy):
    faulty, url = proxy
    activated("SEATTLE-1")
    first = sessions_of("SEATTLE-1")[0]
    size = package_file(first).stat().st_size
    piece = size // 10
    faulty.cut(lambda path, _: path.endswith(f"/packages/{first.id}/content"), piece)
    partial = Path(str(agent.state_file) + ".packages") / f"{first.id}.zip.partial"

    code, out, err = agent("--url", url, "--retries", "1", "sync")

    assert code == 1
    assert f"Resuming the download of package {first.id} at byte {piece}." in out
    assert f"Download of package {first.id} abandoned after 2 attempt(s)" in err
    assert f"{2 * piece:,} of {size:,} bytes received" in err
    session = sessions_of("SEATTLE-1")[0]
    assert (session.status, session.failed_tries) == (SESSION_AVAILABLE, 1)
    assert session.message.startswith("Failed to download (try 1 of 3): Download of package")
    assert partial.stat().st_size == 2 * piece

    for _ in range(2):
        assert agent("--url", url, "--retries", "1", "sync")[0] == 1

    session = sessions_of("SEATTLE-1")[0]
    assert (session.status, session.failed_tries) == (SESSION_DOWNLOAD_FAILED, 3)
    assert session.message.startswith(f"Download of package {first.id} abandoned")
    assert f"{6 * piece:,} of {size:,} bytes received" in session.message
    tries = lifecycle.tries_of(session)
    assert [t.status for t in tries] == [SESSION_DOWNLOAD_FAILED] * 3
    assert "connection lost" in tries[0].message
    # Ended: no longer offered, and nothing after it is applied until HQ acts.
    code, _, err = agent("--url", url, "sync")
    assert code == 1 and f"Apply package {first.id}" in err

    # The line mended, a scheduler retries it: the download resumes where it stopped.
    faulty.clear()
    sessions.retry_session(session)
    db.session.commit()
    code, out, err = agent("--url", url, "sync")
    assert code == 0, err
    assert f"Resuming the download of package {first.id} at byte {6 * piece}." in out
    assert all(s.status == SESSION_APPLIED for s in sessions_of("SEATTLE-1"))


def test_a_package_that_keeps_failing_its_check_ends_download_failed(agent, activated):
    activated("SEATTLE-1")
    first = sessions_of("SEATTLE-1")[0]
    path = package_file(first)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")

    for _ in range(3):
        assert agent("sync")[0] == 1

    session = sessions_of("SEATTLE-1")[0]
    assert (session.status, session.failed_tries) == (SESSION_DOWNLOAD_FAILED, 3)
    assert "SHA-256" in session.message and "try" not in session.message
    assert [t.status for t in lifecycle.tries_of(session)] == [SESSION_DOWNLOAD_FAILED] * 3
    # Given up: the device is no longer offered it, and the later ones wait behind it for HQ.
    code, _, err = agent("sync")
    assert code == 1 and f"Apply package {first.id}" in err
    assert sessions_of("SEATTLE-1")[0].failed_tries == 3
