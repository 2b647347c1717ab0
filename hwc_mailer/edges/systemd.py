"""sd_notify without a dependency: readiness, watchdog, reload and stop notices.

A no-op when not started by systemd (no NOTIFY_SOCKET), so the same code runs
under tests and by hand.
"""

import os
import socket
import time


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self._address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        usec = os.environ.get("WATCHDOG_USEC")
        self._watchdog_every = int(usec) / 2_000_000 if usec and usec.isdigit() else None
        self._last_ping = 0.0

    def _send(self, state: str) -> None:
        if not self._address:
            return
        target = "\0" + self._address[1:] if self._address.startswith("@") else self._address
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(state.encode())

    def ready(self, status: str = "watching the inbox") -> None:
        self._send(f"READY=1\nSTATUS={status}")

    def reloading(self) -> None:
        self._send(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def watchdog(self) -> None:
        """Ping at half the configured interval, however often it is called."""
        if self._watchdog_every is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self._watchdog_every:
            self._last_ping = now
            self._send("WATCHDOG=1")
