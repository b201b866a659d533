"""Who may open a websocket session: the gate in front of `conversation.Conversation`.

A socket is accepted (so it can be told why it is refused), then refused with a typed
error and a close code when its token or origin is wrong (1008), its address already has
TUTOR_MAX_SOCKETS_PER_ADDRESS sockets open (too_many_sockets, 1013), or the tutor is at
TUTOR_MAX_SESSIONS (busy, 1013). The counts live here, per app, and are what the
listener reads to know how many learners are talking."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

from server import protocol as p
from server.access import client_key
from server.config import Settings
from server.errors import TutorError
from server.metrics import ERRORS, SESSIONS
from server.services import Services

# What sending to (or reading from) a socket whose client has left raises: Starlette's
# two (the second once it knows), and uvicorn's ClientDisconnected (an OSError).
GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)


class Refused(TutorError):
    def __init__(self, message: str, *, code: str, close_code: int) -> None:
        super().__init__(message, code)
        self.close_code = close_code


class Admission:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.by_channel: dict[str, int] = {}  # channel -> open sessions
        self.by_address: dict[str, int] = {}  # client address -> open sockets

    def talkers(self, channel: str = "voice") -> int:
        return self.by_channel.get(channel, 0)

    @property
    def open_sessions(self) -> int:
        return sum(self.by_channel.values())

    def check(self, ws: WebSocket, services: Services) -> None:
        try:
            services.access.check(ws)
        except TutorError as exc:
            raise Refused(exc.message, code=exc.code, close_code=1008) from exc
        limit = self.settings.max_sockets_per_address
        if self.by_address.get(client_key(ws), 0) >= limit:
            raise Refused(
                f"this address has {limit} sockets open already; close one, or try again shortly",
                code="too_many_sockets",
                close_code=1013,
            )
        if self.open_sessions >= self.settings.max_sessions:
            raise Refused(
                "the tutor is at its session limit; try again shortly", code="busy", close_code=1013
            )

    @contextlib.asynccontextmanager
    async def admit(self, ws: WebSocket, services: Services, channel: str) -> AsyncIterator[bool]:
        """Accept the socket and yield True while it holds a session (False: refused, and
        told why); on the way out the counts go down and the socket is closed."""
        await ws.accept()
        try:
            self.check(ws, services)
        except Refused as exc:
            await refuse(ws, exc.code, exc.message, exc.close_code)
            yield False
            return
        address = client_key(ws)
        self.by_channel[channel] = self.by_channel.get(channel, 0) + 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        SESSIONS.labels(channel=channel).inc()
        try:
            yield True
        finally:
            self.by_channel[channel] -= 1
            self.by_address[address] -= 1
            if not self.by_address[address]:
                del self.by_address[address]
            SESSIONS.labels(channel=channel).dec()
            await close(ws, 1000)


async def close(ws: WebSocket, code: int) -> None:
    """Close the socket, unless the client has gone already."""
    if ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(*GONE):
            await ws.close(code=code)


async def refuse(ws: WebSocket, code: str, message: str, close_code: int) -> None:
    ERRORS.labels(code=code).inc()
    with contextlib.suppress(*GONE):
        await ws.send_text(p.Error(code=code, message=message).json_text())
    await close(ws, close_code)
