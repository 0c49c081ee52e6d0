"""A TCP proxy on loopback between a register and HQ that can cut HQ off, as a dead network would.

While cut, nothing goes through and nothing is refused: bytes already on their way are held,
new connections are accepted and left hanging, so the register meets real time-outs, not quick
errors. When the cut ends, the connections it caught are closed (as after a real outage) and
new ones go through again. It listens on 127.0.0.1 only.
"""

import contextlib
import ipaddress
import socket
import threading
from urllib.parse import urlsplit

# How often a waiting pump looks at the cut (seconds): the delay a restored link adds, at most.
TICK = 0.05


class _Link:
    """One register connection and its way to HQ."""

    def __init__(self, client: socket.socket, caught: bool):
        self.client = client
        self.upstream: socket.socket | None = None
        self.caught = caught  # a cut caught it: it never carries bytes again
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


class CutOff:
    """A proxy to `upstream` (an http URL) on a free loopback port; `cut()` and `restore()`."""

    def __init__(self, upstream: str, source: str | None = None):
        parts = urlsplit(upstream)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        # Another loopback address to connect from, so HQ tells this link's traffic apart; only
        # for an HQ on loopback, where every 127.x.y.z address is this machine's.
        self.source = (source, 0) if source and _loopback(self.target[0]) else None
        self.scheme = parts.scheme or "http"
        self.lock = threading.Lock()
        self.links: set[_Link] = set()
        self.is_cut = False
        self.held = 0  # connections accepted while cut
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TICK * 4)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="cutoff", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The address a register uses instead of HQ's."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Cut HQ off: every connection, open or new, hangs from now on."""
        with self.lock:
            self.is_cut = True
            for link in self.links:
                link.caught = True

    def restore(self) -> None:
        """Give HQ back: the connections the cut caught are closed, new ones go through."""
        with self.lock:
            self.is_cut = False
            caught = [link for link in self.links if link.caught]
        for link in caught:
            link.close()

    def close(self) -> None:
        """Stop listening and close every connection."""
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()
        with self.lock:
            links = list(self.links)
        for link in links:
            link.close()

    def __enter__(self) -> "CutOff":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                link = _Link(client, caught=self.is_cut)
                self.held += link.caught
                self.links.add(link)
            threading.Thread(target=self._serve, args=(link,), daemon=True).start()

    def _serve(self, link: _Link) -> None:
        try:
            if link.caught:
                link.closed.wait()  # hangs until the cut ends or the proxy closes
                return
            link.upstream = socket.create_connection(
                self.target, timeout=10, source_address=self.source
            )
            back = threading.Thread(
                target=self._pump, args=(link, link.upstream, link.client), daemon=True
            )
            back.start()
            self._pump(link, link.client, link.upstream)
            back.join()
        except OSError:
            pass
        finally:
            link.close()
            with self.lock:
                self.links.discard(link)

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(TICK)
        while not link.closed.is_set():
            if link.caught:
                link.closed.wait(TICK)
                continue
            try:
                data = source.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if link.caught:
                continue  # cut while these bytes were on their way: they never arrive
            try:
                sink.sendall(data)
            except OSError:
                break
        link.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
