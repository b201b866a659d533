"""One exchange with a Wyoming server (`tcp://host:port`, or `unix:///path/to/socket` for
one on the same machine that only its owner may reach), blocking, within a deadline.

Wyoming is a line of JSON per event (type, data), optionally followed by binary audio;
both wyoming-faster-whisper and wyoming-piper close the connection after one request, so
a call opens its own connection, writes its events, reads until its answer and closes.
The `wyoming` package's own sync reader and writer do the framing; a plain socket with a
timeout set before every read or write keeps the whole call within `timeout_s` of its
start, so a server that is down, stalls or trickles never holds a worker thread longer.

Failures are three kinds, which each engine names with its own error codes:
`Unreachable` (no connection), `TimedOut` (no answer by the deadline), `Broken` (the server
hung up early, sent an Error event, or sent something that is not Wyoming)."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

from wyoming.error import Error
from wyoming.event import Event, Eventable, read_event, write_event
from wyoming.info import Describe, Info

# Connecting is quick or it is not happening (loopback or a LAN), as for the LLM server.
CONNECT_S = 3.0
PROBE_S = 1.0  # /healthz's reachability check: a Describe answered with Info


class LinkError(Exception):
    pass


class Unreachable(LinkError):
    pass


class TimedOut(LinkError):
    pass


class Broken(LinkError):
    pass


def address(url: str) -> tuple[str, int] | str:
    """`tcp://host:port` -> (host, port); `unix:///path` -> the socket's path (absolute).
    The settings have checked its shape."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        # unix:///run/stt.sock (the path), as wyoming's own servers take it.
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{url!r} is not a unix:///absolute/path address")
        return parts.path
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"{url!r} is not a tcp://host:port or unix:///path address")
    return parts.hostname, parts.port


def connect(where: tuple[str, int] | str, timeout_s: float) -> socket.socket:
    """A connected socket to a TCP address or a Unix socket's path."""
    if isinstance(where, tuple):
        return socket.create_connection(where, timeout=timeout_s)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(where)
    except BaseException:
        sock.close()
        raise
    return sock


class Exchange:
    """A connection for one request: `send` events, `receive` them, all by `deadline`."""

    def __init__(self, url: str, timeout_s: float) -> None:
        where = address(url)
        self.deadline = time.monotonic() + timeout_s
        try:
            self._sock = connect(where, min(CONNECT_S, timeout_s))
        except TimeoutError as exc:
            raise Unreachable(f"no connection within {min(CONNECT_S, timeout_s):g} s") from exc
        except OSError as exc:
            raise Unreachable(f"cannot connect ({exc.strerror or exc})") from exc
        self._file = self._sock.makefile("rwb")

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _arm(self) -> None:
        """The time left until the deadline becomes the socket's timeout."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimedOut("no answer within the timeout")
        self._sock.settimeout(left)

    def send(self, *events: Eventable | Event) -> None:
        try:
            for event in events:
                self._arm()
                write_event(event if isinstance(event, Event) else event.event(), self._file)
        except TimeoutError as exc:
            raise TimedOut("the server stopped reading within the timeout") from exc
        except OSError as exc:
            raise Broken(f"the connection broke while sending ({exc.strerror or exc})") from exc

    def receive(self) -> Event:
        """The next event; an Error event, a closed connection or garbage is `Broken`."""
        self._arm()
        try:
            event = read_event(self._file)
        except TimeoutError as exc:
            raise TimedOut("no answer within the timeout") from exc
        except OSError as exc:
            raise Broken(f"the connection broke ({exc.strerror or exc})") from exc
        if event is None:
            raise Broken("the server closed the connection before answering")
        if Error.is_type(event.type):
            error = Error.from_event(event)
            raise Broken(f"the server said: {error.text[:200]} ({error.code})")
        return event

    def close(self) -> None:
        for closing in (self._file, self._sock):
            try:
                closing.close()
            except OSError:
                pass


def probe(url: str) -> dict[str, Any]:
    """For /healthz: whether the server answers a Describe with its Info now, and how
    long that took."""
    start = time.perf_counter()
    try:
        with Exchange(url, PROBE_S) as exchange:
            exchange.send(Describe())
            while not Info.is_type(exchange.receive().type):
                pass
        reachable = True
    except LinkError:
        reachable = False
    return {"reachable": reachable, "probe_ms": round(1000 * (time.perf_counter() - start), 1)}
