"""Retries with backoff for transient failures, and clear errors for the rest."""

import httpx
import pytest

from portal.agent.client import PortalClient
from portal.agent.errors import AgentError, PortalUnreachable, Refused, Unauthorized


def client_answering(*answers, retries=3):
    """A client whose requests get these answers in turn (a status, or an exception to raise)."""
    seen, delays = [], []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer if isinstance(answer, tuple) else (answer, {}, None)
        return httpx.Response(status, headers=headers, json=body or {"ok": True})

    client = PortalClient(
        "http://portal.test/",
        "hqd_secret",
        retries=retries,
        transport=httpx.MockTransport(handle),
        sleep=delays.append,
    )
    return client, seen, delays


def test_transient_answers_are_retried_with_growing_delays():
    client, seen, delays = client_answering(503, 502, 500, 200)

    response = client.request("GET", "/config")

    assert response.json() == {"ok": True}
    assert len(seen) == 4
    assert str(seen[0].url) == "http://portal.test/api/v1/device/config"
    assert seen[0].headers["Authorization"] == "Bearer hqd_secret"
    assert 0.25 <= delays[0] <= 0.5 and 1 <= delays[2] <= 2


def test_a_busy_portal_is_given_the_time_it_asks_for():
    client, seen, delays = client_answering((429, {"Retry-After": "7"}, None), 200)

    client.request("POST", "/activate", json={}, idempotent=False)

    assert delays == [7.0]


def test_lost_connections_are_retried_until_the_tries_are_used_up():
    error = httpx.ConnectError("connection refused")
    client, seen, delays = client_answering(error, retries=2)

    with pytest.raises(PortalUnreachable, match="Cannot reach the portal at http://portal.test"):
        client.request("GET", "/config")
    assert len(seen) == 3 and len(delays) == 2


def test_a_request_that_may_have_arrived_is_not_sent_twice_unless_it_is_idempotent():
    client, seen, _ = client_answering(httpx.ReadTimeout("slow"), 200)
    with pytest.raises(PortalUnreachable):
        client.request("POST", "/activate", json={}, idempotent=False)
    assert len(seen) == 1

    client, seen, _ = client_answering(httpx.ReadTimeout("slow"), 200)
    assert client.request("POST", "/transactions", json={}).status_code == 200
    assert len(seen) == 2


def test_refusals_carry_the_portal_message_and_are_not_retried():
    body = {
        "error": {"code": "unauthorized", "message": "The device token is revoked.", "fields": {}}
    }
    client, seen, _ = client_answering((401, {}, body))
    with pytest.raises(Unauthorized, match="The device token is revoked"):
        client.request("GET", "/config")
    assert len(seen) == 1

    body = {"error": {"code": "conflict", "message": "Apply 41 first.", "fields": {"x": 41}}}
    client, _, _ = client_answering((409, {}, body))
    with pytest.raises(Refused) as refused:
        client.request("POST", "/packages/42/status", json={})
    assert (refused.value.status, refused.value.message, refused.value.fields) == (
        409,
        "Apply 41 first.",
        {"x": 41},
    )


def test_a_portal_that_keeps_failing_is_reported_after_the_last_try():
    client, seen, _ = client_answering(503, retries=1)
    with pytest.raises(PortalUnreachable, match="kept failing"):
        client.request("GET", "/packages")
    assert len(seen) == 2


def test_an_answer_that_is_not_the_device_apis_json_is_a_clear_error():
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Welcome to nginx</html>")

    client = PortalClient("http://portal.test", transport=httpx.MockTransport(handle))
    with pytest.raises(AgentError, match="is --url the portal's address"):
        client.call("GET", "/config")
