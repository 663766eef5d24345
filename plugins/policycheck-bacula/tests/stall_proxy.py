"""A TCP proxy in front of a real director that relays the login and a few commands, then stops answering."""
from __future__ import annotations

import contextlib
import socket
import struct
import threading


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class StallProxy:
    """Relay bconsole <-> director; after the banner and ``commands`` command frames, relay nothing more."""

    def __init__(self, upstream_port: int, commands: int = 2):
        self.upstream_port = upstream_port
        self.commands = commands
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.socks += [client, upstream]
            state = {"logged_in": False, "count": 0}
            threading.Thread(target=self._c2s, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._s2c, args=(upstream, client, state), daemon=True).start()

    def _c2s(self, client, upstream, state):
        try:
            while True:
                head = _recv_exact(client, 4)
                if head is None:
                    return
                (n,) = struct.unpack(">i", head)
                body = _recv_exact(client, n) if n > 0 else b""
                if body is None:
                    return
                if state["logged_in"] and n > 0:
                    state["count"] += 1
                    if state["count"] > self.commands:
                        self.stalled.set()
                if not self.stalled.is_set():
                    upstream.sendall(head + body)
        except OSError:
            return

    def _s2c(self, upstream, client, state):
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    return
                if b"1000 OK:" in data:
                    state["logged_in"] = True
                if not self.stalled.is_set():
                    client.sendall(data)
        except OSError:
            return

    def close(self):
        for s in [self.listener] + self.socks:
            with contextlib.suppress(OSError):
                s.close()
