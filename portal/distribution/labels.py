"""Run and download session statuses in words, as every page and the API show them."""

from portal.distribution.models import (
    RUN_CANCELED,
    RUN_DONE,
    RUN_FAILED,
    RUN_RUNNING,
    RUN_WAITING,
    SESSION_APPLIED,
    SESSION_APPLY_FAILED,
    SESSION_AVAILABLE,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_DOWNLOADED,
    SESSION_NO_DATA,
    SESSION_REQUESTED,
    DownloadSession,
)

WORDS = {
    SESSION_REQUESTED: "Requested",
    SESSION_AVAILABLE: "Available",
    SESSION_DOWNLOADED: "Downloaded",
    SESSION_APPLIED: "Applied",
    SESSION_NO_DATA: "No data",
    SESSION_CREATE_FAILED: "Build failed",
    SESSION_DOWNLOAD_FAILED: "Download failed",
    SESSION_APPLY_FAILED: "Apply failed",
    SESSION_CANCELED: "Canceled",
}

RUN_WORDS = {
    RUN_WAITING: "Waiting",
    RUN_RUNNING: "Running",
    RUN_DONE: "Done",
    RUN_FAILED: "Failed",
    RUN_CANCELED: "Canceled",
}


def run_status_label(status: str) -> str:
    """A run's status in words ("Canceled")."""
    return RUN_WORDS.get(status, status)


def _tries(count: int) -> str:
    return f"{count} {'try' if count == 1 else 'tries'}"


def session_status_label(session: DownloadSession) -> str:
    """A session's status in words, with its tries where they matter ("Apply failed: 3 tries")."""
    words = WORDS.get(session.status, session.status)
    tries = session.failed_tries or 0
    if session.status in (SESSION_APPLY_FAILED, SESSION_DOWNLOAD_FAILED):
        return f"{words}: {_tries(max(tries, 1))}"
    if session.status in (SESSION_AVAILABLE, SESSION_DOWNLOADED) and tries:
        return f"{words} again: {_tries(tries)} failed"
    if session.status == SESSION_CREATE_FAILED and session.build_attempts > 1:
        return f"{words}: {session.build_attempts} attempts"
    return words
