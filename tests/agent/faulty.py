"""A faulty way to the portal: a proxy on loopback that fails chosen requests, for real over HTTP.

Every request goes on to the live portal unchanged and its answer comes back, except those a
rule matches: the proxy answers those itself with the rule's status, as a portal failing on a
sale (or a proxy in front of a failing portal) would. A rule may first let the portal do the
work and then lose its answer, as a connection cut on the way back does, or send only the first
bytes of the portal's answer and close the connection, as one lost mid-download does.
"""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# Hop-by-hop headers, and those httpx already acted on (it decodes the body it hands over).
DROPPED = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
ERROR_CODES = {400: "bad_request", 422: "validation_failed", 500: "internal_error"}


@dataclass
class Rule:
    """Fail requests whose path and body `matches` accepts: `times` of them, or all (None)."""

    matches: Callable[[str, bytes], bool]
    status: int
    times: int | None = None
    forward: bool = False
    cut_after: int | None = None


@dataclass
class Exchange:
    """One request the proxy saw and the status it answered."""

    method: str
    path: str
    key: str | None
    body: bytes
    status: int
    replayed: bool


class FaultyProxy:
    """The WSGI proxy: forwards to `upstream` unless a rule says to fail."""

    def __init__(self, upstream: str):
        self.http = httpx.Client(base_url=upstream, timeout=60)
        self.rules: list[Rule] = []
        self.log: list[Exchange] = []
        self.lock = threading.Lock()

    def fail(
        self,
        matches: Callable[[str, bytes], bool],
        status: int,
        times: int | None = None,
        forward: bool = False,
    ) -> None:
        """Answer `status` to the matching requests; with `forward`, after the portal did them."""
        self.rules.append(Rule(matches, status, times, forward))

    def cut(self, matches: Callable[[str, bytes], bool], after: int) -> None:
        """Send only the first `after` bytes of the matching answers' bodies, then hang up."""
        self.rules.append(Rule(matches, 0, None, True, after))

    def clear(self) -> None:
        """Let every request through again."""
        with self.lock:
            self.rules.clear()

    def uploads(self) -> list[Exchange]:
        """The upload requests seen, in order."""
        return [e for e in self.log if e.path.endswith("/transactions")]

    def sales_sent(self, transaction_id: str) -> int:
        """How many upload requests carried this sale."""
        return sum(transaction_id.encode() in e.body for e in self.uploads())

    def _rule_for(self, path: str, body: bytes) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.times != 0 and rule.matches(path, body):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        rule = self._rule_for(request.path, body)
        answer = None
        if rule is None or rule.forward:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
            headers.pop("Host", None)
            answer = self.http.request(
                request.method,
                request.full_path if request.query_string else request.path,
                content=body,
                headers=headers,
            )
        if rule is None or rule.cut_after is not None:
            content = answer.content if rule is None else answer.content[: rule.cut_after]
            response = Response(
                content,
                answer.status_code,
                [(k, v) for k, v in answer.headers.items() if k.lower() not in DROPPED],
            )
            # The whole length announced, part of it sent: the server then closes the
            # connection (it keeps none open), and the client sees the body cut short.
            response.headers["Content-Length"] = str(len(answer.content))
        else:
            error = {
                "code": ERROR_CODES.get(rule.status, "error"),
                "message": f"Failed on purpose with {rule.status}.",
                "fields": {},
            }
            response = Response(
                json.dumps({"error": error}), rule.status, content_type="application/json"
            )
        self.log.append(
            Exchange(
                request.method,
                request.path,
                request.headers.get("Idempotency-Key"),
                body,
                response.status_code,
                answer is not None and answer.headers.get("Idempotent-Replayed") == "true",
            )
        )
        return response(environ, start_response)


@contextmanager
def faulty_proxy(upstream: str) -> Iterator[tuple[FaultyProxy, str]]:
    """A FaultyProxy in front of `upstream`, served on a free loopback port; and its address."""
    proxy = FaultyProxy(upstream)
    server = make_server("127.0.0.1", 0, proxy, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="faulty-proxy", daemon=True)
    thread.start()
    try:
        yield proxy, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        proxy.http.close()
