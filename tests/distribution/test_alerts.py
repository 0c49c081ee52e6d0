"""Alerts: notifications for failed runs and sessions and databases behind, sent to webhooks."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import alerts, builds, runs, tasks, webhooks
from portal.distribution import services as distribution
from portal.distribution.alert_models import Notification, WebhookDelivery
from portal.distribution.models import DownloadSession
from tests.distribution.conftest import run_schedule
from tests.workers import wait_for, worker_process

pytestmark = pytest.mark.usefixtures("stores_group", "task_queue")

SECRET = "a-shared-secret-of-hq"


class Receiver:
    """A real HTTP server on a free local port that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.arrived: list[float] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                receiver.arrived.append(time.monotonic())
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/hq"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def failed_run(tmp_path, monkeypatch):
    """A run whose every package failed to build: the package store was a file, not a folder."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with monkeypatch.context() as patch:
        patch.setitem(current_app.config, "PACKAGE_STORE", str(blocker))
        return run_schedule()


def notifications() -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).order_by(Notification.id)))


def deliveries() -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_failed_run_and_its_failed_sessions_raise_notifications_once(failed_run):
    raised = notifications()

    assert failed_run.status == "failed"
    assert [(n.event, n.subject) for n in raised] == [
        *[("session_failed", f"session:{s.id}") for s in failed_sessions(failed_run)],
        ("run_failed", f"run:{failed_run.id}"),
    ]
    assert raised[-1].message == f"Run {failed_run.id} failed. 3 package(s) could not be built."
    assert "Create failed: job 1080" in raised[0].message and "Writing failed" in raised[0].message
    # Raised again while open: still one.
    assert alerts.raise_notification("run_failed", f"run:{failed_run.id}", "again") is None
    assert [n.id for n in alerts.open_notifications()] == [n.id for n in reversed(raised)]


def failed_sessions(run) -> list[DownloadSession]:
    return list(
        db.session.scalars(
            sa.select(DownloadSession).filter_by(run_id=run.id).order_by(DownloadSession.id)
        )
    )


def test_builds_given_up_by_the_reaper_raise_session_failed():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    session_ids = runs.plan_run(run.id)
    builds.give_up(session_ids[:1], "Build lost 3 times; retry it from the run page.")
    db.session.commit()

    (raised,) = notifications()
    assert (raised.event, raised.session_id, raised.job_number) == (
        "session_failed",
        session_ids[0],
        "1080",
    )


def test_a_database_behind_raises_once_and_clears_when_it_catches_up():
    run = run_schedule()
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.run_id == run.id)
        .values(requested_at=utcnow() - timedelta(minutes=90))
    )
    db.session.commit()

    assert alerts.check_behind() == (3, 0)
    assert alerts.check_behind() == (0, 0)
    db.session.commit()
    behind = notifications()
    assert {n.channel_database.name for n in behind} == {"HOUSTON", "DALLAS", "SEATTLE"}
    assert "waiting for 90 minutes (threshold 60)" in behind[0].message

    db.session.execute(
        sa.update(DownloadSession).where(DownloadSession.run_id == run.id).values(status="applied")
    )
    assert alerts.check_behind() == (0, 3)
    db.session.commit()
    assert alerts.open_notifications() == []
    assert {n.resolved_by for n in notifications()} == {"system: caught up"}


def test_a_webhook_receives_each_notification_signed_with_its_secret(
    client, token_for, failed_run, task_queue
):
    with Receiver() as receiver:
        created = client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "events": ["run_failed"], "secret": SECRET},
            headers=token_for("admin"),
        )
        assert created.status_code == 201, created.json
        assert "secret" not in created.json
        alerts.raise_notification("run_failed", "run:other", "Run 0 failed.")
        db.session.commit()
        (delivery,) = deliveries()
        # Handed to the workers once committed (here a broker no worker reads; run it eagerly).
        assert ("distribution.deliver_webhook", [delivery.id]) in task_queue.tasks()

        tasks.deliver_webhook.apply((delivery.id,))

    ((headers, body),) = receiver.received
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-HQ-Signature"] == f"sha256={expected}"
    assert headers["X-HQ-Event"] == "run_failed"
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert sent["event"] == "run_failed"
    assert sent["notification"]["message"] == "Run 0 failed."
    (delivery,) = deliveries()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 204)


def test_a_failing_receiver_is_tried_again_with_backoff_and_the_log_shows_it(
    client, login, token_for
):
    with Receiver() as receiver:
        webhook = webhooks.create_webhook({"url": receiver.url, "secret": SECRET})
        db.session.commit()
        receiver.answers = [500, 503]
        alerts.raise_notification("session_failed", "session:1", "Apply failed: 3 tries")
        db.session.commit()
        (delivery,) = deliveries()

        # What the task does on each try; Celery then runs it again after the wait returned.
        assert webhooks.deliver(delivery.id) == 30
        db.session.commit()
        (after_one,) = deliveries()
        assert (after_one.status, after_one.attempts, after_one.response_status) == (
            "pending",
            1,
            500,
        )
        wait = after_one.next_attempt_at - utcnow()
        assert timedelta(seconds=20) < wait <= timedelta(seconds=30)
        assert webhooks.deliver(delivery.id) == 60
        db.session.commit()
        tasks.deliver_webhook.apply((delivery.id,))

    assert len(receiver.received) == 3
    (delivered,) = deliveries()
    assert (delivered.status, delivered.attempts) == ("delivered", 3)
    login("scheduler")
    page = client.get(f"/alerts/webhooks/{webhook.id}").text
    assert "Delivered" in page and ">3</td>" in page


def delivered_once_tried(times: int):
    """A poll: the only delivery is delivered after `times` tries (read afresh each time)."""

    def check() -> bool:
        found = db.session.execute(sa.select(WebhookDelivery.status, WebhookDelivery.attempts))
        rows = found.all()
        db.session.rollback()  # end the read so the next poll sees the worker's commits
        return rows == [("delivered", times)]

    return check


def test_a_real_worker_delivers_signed_and_tries_again_after_a_500_with_its_pause(
    app, client, login, token_for, task_queue, database_uri, tmp_path
):
    queue = app.extensions["celery"].conf.task_default_queue
    log = tmp_path / "worker.log"
    retry_seconds = 2
    with Receiver() as receiver:
        receiver.answers = [500]
        webhook = webhooks.create_webhook({"url": receiver.url, "secret": SECRET})
        db.session.commit()
        with worker_process(
            task_queue.celery.conf.broker_url,
            queue,
            database_uri,
            tmp_path,
            log,
            settings={"WEBHOOK_RETRY_SECONDS": str(retry_seconds)},
        ) as worker:
            # Committed, the notification's delivery goes to the workers on their queue.
            alerts.raise_notification("run_failed", "run:7", "Run 7 failed.")
            db.session.commit()
            wait_for(delivered_once_tried(2), worker, log, "the delivery after its retry")

    first, second = receiver.received
    assert first[1] == second[1] and json.loads(first[1])["notification"]["message"] == (
        "Run 7 failed."
    )
    for headers, body in receiver.received:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-HQ-Signature"] == f"sha256={expected}"
    assert first[0]["X-HQ-Delivery"] == second[0]["X-HQ-Delivery"]
    # Celery brought the task back after the pause the failed try asked for, not at once.
    assert receiver.arrived[1] - receiver.arrived[0] >= retry_seconds - 0.5
    (delivery,) = deliveries()
    assert [(t.response_status, t.error[:12]) for t in delivery.tries] == [
        (500, "Answered 500"),
        (204, ""),
    ]
    logged = client.get(f"/api/v1/webhooks/{webhook.id}/deliveries", headers=token_for("admin"))
    assert [t["response_status"] for t in logged.json["items"][0]["tries"]] == [500, 204]
    login("scheduler")
    page = client.get(f"/alerts/webhooks/{webhook.id}").text
    row = page[page.index(f'data-delivery="{delivery.id}"') :]
    assert "Delivered" in row and ">2</td>" in row
    one, two = row.index('data-try="1"'), row.index('data-try="2"')
    assert '<span class="mono">500</span>' in row[one:two] and "Answered 500" in row[one:two]
    assert '<span class="mono">204</span>' in row[two : row.index("</ol>")]


def test_an_unreachable_receiver_fails_after_its_tries(monkeypatch):
    webhook = webhooks.create_webhook({"url": "http://127.0.0.1:9/nothing", "secret": SECRET})
    alerts.raise_notification("run_failed", "run:1", "Run 1 failed.")
    db.session.commit()
    (delivery,) = deliveries()
    monkeypatch.setattr(webhooks, "MAX_TRIES", 2)

    assert webhooks.deliver(delivery.id) == 30
    assert webhooks.deliver(delivery.id) is None
    db.session.commit()

    (failed,) = deliveries()
    assert (failed.status, failed.attempts, failed.response_status) == ("failed", 2, None)
    assert "ConnectError" in failed.last_error
    assert failed.webhook_id == webhook.id


def test_webhooks_refuse_bad_addresses_secrets_and_events(client, token_for):
    admin = token_for("admin")

    refused = client.post(
        "/api/v1/webhooks",
        json={"url": "ftp://example.com", "secret": "short", "events": ["run_failed"]},
        headers=admin,
    )
    unknown_event = client.post(
        "/api/v1/webhooks",
        json={"url": "https://example.com/h", "secret": SECRET, "events": ["everything"]},
        headers=admin,
    )

    assert refused.status_code == 422
    assert set(refused.json["error"]["fields"]) == {"url", "secret"}
    assert unknown_event.status_code == 422
    db.session.rollback()
    assert list(db.session.scalars(webhooks.webhooks_query())) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0


def test_webhook_pages_add_change_and_delete_after_confirming(client, login):
    login("admin")
    added = client.post(
        "/alerts/webhooks/new",
        data={
            "url": "https://ops.example.com/hq",
            "events": ["run_failed"],
            "secret": SECRET,
            "active": "y",
        },
    )
    assert added.status_code == 302, added.text
    db.session.rollback()
    (webhook,) = db.session.scalars(webhooks.webhooks_query())
    edited = client.post(
        f"/alerts/webhooks/{webhook.id}/edit",
        data={"url": "https://ops.example.com/hq2", "events": ["session_failed"], "secret": ""},
    )
    confirm = client.get(f"/alerts/webhooks/{webhook.id}/delete").text
    deleted = client.post(f"/alerts/webhooks/{webhook.id}/delete")

    assert edited.status_code == 302
    assert "Delete webhook https://ops.example.com/hq2?" in confirm
    assert deleted.status_code == 302
    db.session.rollback()
    entries = db.session.scalars(
        sa.select(AuditEntry).filter_by(entity_type="webhook").order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert SECRET not in json.dumps([e.after for e in entries] + [e.before for e in entries])
    assert list(db.session.scalars(webhooks.webhooks_query())) == []


def test_notifications_page_lists_open_ones_and_schedulers_dismiss_them(client, login, failed_run):
    login("auditor")
    page = client.get("/alerts/notifications").text
    assert page.count("data-notification=") == 4 and "Dismiss" not in page
    client.post("/logout")

    login("scheduler")
    run_note = notifications()[-1]
    dismissed = client.post(f"/alerts/notifications/{run_note.id}/dismiss")

    assert dismissed.status_code == 302
    assert client.get("/alerts/notifications").text.count("data-notification=") == 3
    assert client.get("/alerts/notifications?all=1").text.count("data-notification=") == 4
    assert notifications()[-1].resolved_by.startswith("scheduler-")
