"""A misbehaving server on 127.0.0.1 for the tests of what the daemon says and does when a server will not play
along: each connection is handed to `talk` on a thread of its own; `stopped` ends every one of them."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Self

LOOPBACK = "127.0.0.1"


class LoopbackServer:
    """Listens at once (so `port` is known), serves between `with` and its end. `certificate`: a TLS context that
    presents it (cert and key files), for a subclass to wrap connections with."""

    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.context: ssl.SSLContext | None = None
        if certificate is not None:
            self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.context.load_cert_chain(*certificate)
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self._listener.close()
        self._thread.join(10)

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(client,), daemon=True).start()

    def _talk(self, client: socket.socket) -> None:
        try:
            with client:
                self.talk(client)
        except OSError:     # the client refused the certificate, or hung up
            pass

    def talk(self, client: socket.socket) -> None:
        """One connection's part; the connection is closed after it."""
        raise NotImplementedError
