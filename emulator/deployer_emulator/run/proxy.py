"""A stable localhost address per Cloud Run service, forwarding each connection to a revision that receives traffic.

Google gives a service one URL for its whole life (``https://SERVICE-HASH-REGION.a.run.app``) and moves traffic
between revisions behind it; tagged revisions get their own ``https://TAG---SERVICE-...`` URL
(https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration). Each revision's container here listens
on its own published host port, so a ``ServiceProxy`` listens on a port that never changes and forwards whole TCP
connections to the revision chosen for that connection: with a split, by weighted random choice, which is how
Cloud Run splits traffic per request. Keep-alive connections stay on the revision they were opened to, as
in-flight requests do on Google during a traffic migration.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

_BUFFER = 65536
_REQUEST_HEAD_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Backend:
    """A revision whose container listens on ``127.0.0.1:port``."""

    revision: str
    port: int


@dataclass(frozen=True)
class Unavailable:
    """A revision (or no revision) that cannot answer: every request gets 503 with ``message`` as plain text."""

    message: str


Target = Backend | Unavailable


def http_503(message: str) -> bytes:
    body = (message.rstrip("\n") + "\n").encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class ServiceProxy:
    """A listening socket on 127.0.0.1 whose connections go to the current targets; switch them with ``set_targets``."""

    def __init__(self, name: str, port: int = 0, *, idle_message: str = "") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._targets: list[tuple[Target, int]] = []
        self._idle = Unavailable(idle_message or f"Service {name} has no revision ready to serve traffic.")
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind(("127.0.0.1", port))
        except OSError:
            if port == 0:
                raise
            # The remembered port is taken (e.g. after a restart): a new one is better than no proxy.
            self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._live: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name=f"run proxy {name}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_targets(self, targets: Sequence[tuple[Target, int]]) -> None:
        """Replace where new connections go: ``(target, weight)`` pairs; weights are traffic percents."""
        chosen = [(target, weight) for target, weight in targets if weight > 0]
        with self._lock:
            self._targets = chosen

    def targets(self) -> list[tuple[Target, int]]:
        with self._lock:
            return list(self._targets)

    def pick(self) -> Target:
        with self._lock:
            targets = list(self._targets)
        if not targets:
            return self._idle
        if len(targets) == 1:
            return targets[0][0]
        return random.choices([t for t, _ in targets], weights=[w for _, w in targets])[0]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            live = list(self._live)
        try:
            self._listener.close()
        except OSError:
            pass
        for sock in live:
            _close(sock)

    # -- connections -------------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    _close(client)
                    return
                self._live.add(client)
            threading.Thread(
                target=self._serve, args=(client,), name=f"run proxy {self.name} conn", daemon=True
            ).start()

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._live.discard(sock)

    def _serve(self, client: socket.socket) -> None:
        target = self.pick()
        if isinstance(target, Unavailable):
            try:
                _answer(client, http_503(target.message))
            finally:
                self._forget(client)
                _close(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", target.port), timeout=10)
        except OSError:
            try:
                _answer(client, http_503(f"Revision {target.revision} is not accepting connections."))
            finally:
                self._forget(client)
                _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._live.add(upstream)
        done = threading.Event()

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(_BUFFER)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if done.is_set():
                self._forget(client, upstream)
                _close(client)
                _close(upstream)
            else:
                done.set()

        threading.Thread(target=pump, args=(upstream, client), name=f"run proxy {self.name} down", daemon=True).start()
        pump(client, upstream)


def _answer(client: socket.socket, response: bytes) -> None:
    """Read the request head (so closing does not reset the connection under the client), then answer."""
    client.settimeout(_REQUEST_HEAD_TIMEOUT_S)
    received = b""
    try:
        while b"\r\n\r\n" not in received and len(received) < _BUFFER:
            chunk = client.recv(4096)
            if not chunk:
                break
            received += chunk
        client.sendall(response)
        client.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (for a container's published port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
