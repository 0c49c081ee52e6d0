"""The device API over HTTP: retries with backoff for transient failures, clear errors otherwise."""

import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from importlib import metadata

import httpx

from portal.agent.errors import AgentError, PortalUnreachable, Refused, Unauthorized

API_PATH = "/api/v1/device"
# Answers worth another try: the portal or a proxy in front of it is busy or restarting.
TRANSIENT = frozenset({429, 500, 502, 503, 504})


def app_version() -> str:
    """What the agent reports as its version in heartbeats."""
    try:
        return f"portal-agent/{metadata.version('hq-portal')}"
    except metadata.PackageNotFoundError:
        return "portal-agent/dev"


class TransientStatus(PortalUnreachable):
    """The portal answered with a status worth another try (busy, restarting)."""

    def __init__(self, message: str, status: int, answer: str):
        super().__init__(message)
        self.status = status
        self.answer = answer


class PortalClient:
    """A device's connection to the portal's device API."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_delay: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        event_hooks: dict | None = None,
    ):
        self.url = url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_delay = max_delay
        self.sleep = sleep
        headers = {"User-Agent": app_version(), "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(
            base_url=self.url + API_PATH,
            headers=headers,
            timeout=timeout,
            transport=transport,
            event_hooks=event_hooks,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> "PortalClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        content: bytes | None = None,
        headers: dict | None = None,
        params: dict | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send a request, retrying transient failures; returns a 2xx/3xx answer or raises.

        A request that is not idempotent is retried only when it surely never arrived (no
        connection) or the portal said to come back later (429, 503).
        """
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    method, path, json=json, content=content, headers=headers, params=params
                )
            except httpx.TransportError as error:
                sent = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt >= self.retries or (sent and not idempotent):
                    raise self.unreachable(error) from None
                self.wait(attempt)
                attempt += 1
                continue
            retry = response.status_code in TRANSIENT and (
                idempotent or response.status_code in (429, 503)
            )
            if retry and attempt < self.retries:
                self.wait(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            return self.check(response)

    def call(self, method: str, path: str, **kwargs) -> dict:
        """Send a request (as `request`) and return its JSON object."""
        response = self.request(method, path, **kwargs)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise AgentError(
                f"{self.url} answered {method} {path} with something other than the device "
                "API's JSON; is --url the portal's address?"
            )
        return answer

    @contextmanager
    def stream(self, path: str, headers: dict | None = None):
        """Stream a GET's body (for package downloads); transport errors are the caller's.

        A redirect (to object storage) is followed; httpx drops the device token on the way.
        """
        with self.http.stream("GET", path, headers=headers, follow_redirects=True) as response:
            if response.status_code >= 400:
                response.read()
                self.check(response)
            yield response

    def check(self, response: httpx.Response) -> httpx.Response:
        """Turn a refusal into the agent's errors, with the portal's own message."""
        status = response.status_code
        if status < 400:
            return response
        message, fields = _error_of(response)
        if status == 401:
            raise Unauthorized(f"The portal refused the credentials: {message}")
        if status in TRANSIENT:
            raise TransientStatus(
                f"The portal at {self.url} kept failing ({status}: {message}); try again later.",
                status,
                message,
            )
        raise Refused(status, message, fields)

    def unreachable(self, error: Exception) -> PortalUnreachable:
        """The error for a portal that cannot be reached."""
        return PortalUnreachable(f"Cannot reach the portal at {self.url}: {error or type(error)}")

    def wait(self, attempt: int, retry_after: str | None = None) -> None:
        """Back off before another try: exponential with jitter, or as the portal asked."""
        delay = min(self.max_delay, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        if retry_after and retry_after.strip().isdigit():
            delay = min(self.max_delay, max(delay, float(retry_after)))
        self.sleep(delay)


def _error_of(response: httpx.Response) -> tuple[str, dict]:
    try:
        error = response.json()["error"]
        return str(error.get("message") or error), dict(error.get("fields") or {})
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text.strip().splitlines()
        return f"HTTP {response.status_code} {text[0][:200] if text else ''}".strip(), {}
