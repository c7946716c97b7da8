"""Relay a loopback port to a database and cut it on demand: an outage, as the client sees it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class CuttableProxy:
    """Listens on 127.0.0.1:`port` and relays to `upstream`; `cut()` kills it, `heal()` revives.

    While cut, the listener is closed (connection refused) and every relayed connection is torn
    down, which is what a client sees when the database host goes away. The port stays the same:
    while cut it is held by a bound socket that does not listen (the kernel refuses connections
    to it), so no other process can take it in the meantime.
    """

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self._upstream = upstream
        self._guard = threading.Lock()
        self._live: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._reserved: socket.socket | None = None
        self.port = port
        self.heal()

    @property
    def is_cut(self) -> bool:
        """True while the proxy refuses connections."""
        return self._listener is None

    def heal(self) -> None:
        """Listen (again, on the same port) and relay new connections."""
        with self._guard:
            if self._listener is not None:
                return
            listener, self._reserved = self._reserved or _bound(self.port), None  # may raise
            listener.listen(64)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._serve, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        with self._guard:
            listener, self._listener = self._listener, None
            doomed, self._live = self._live, set()
            if listener is not None:
                listener.close()
            for sock in doomed:
                _drop(sock)
            if listener is not None:
                self._reserved = _try_bound(self.port)

    def close(self) -> None:
        """Stop for good."""
        self.cut()
        with self._guard:
            if self._reserved is not None:
                self._reserved.close()
                self._reserved = None

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _drop(downstream)
                continue
            with self._guard:
                if self._listener is not listener:
                    _drop(downstream)
                    _drop(upstream)
                    return
                self._live.update((downstream, upstream))
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._guard:
                self._live.discard(source)
                self._live.discard(sink)
            _drop(source)
            _drop(sink)


def _bound(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:`port` (not listening yet)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _try_bound(port: int, attempts: int = 20) -> socket.socket | None:
    """Hold `port` with a bound socket, retrying while the just-closed sockets let go of it."""
    for _ in range(attempts):
        try:
            return _bound(port)
        except OSError:
            time.sleep(0.05)
    return None  # not held: `heal` binds again (and is retried by the caller if that fails)


def _drop(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
