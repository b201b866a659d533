"""Who may open a websocket session: the gate in front of `conversation.Conversation`.

A socket is accepted (so it can be told why it is refused), then refused with a typed
error and a close code when its token or origin is wrong (1008), its address already has
TUTOR_MAX_SOCKETS_PER_ADDRESS sockets open (too_many_sockets, 1013), or the tutor is at
TUTOR_MAX_SESSIONS (busy, 1013). The counts live here, per app, and are what the
listener reads to know how many learners are talking.

Each admitted session holds a `Slot`, which knows when its learner last sent something
(a question, microphone audio, a lesson's progress: anything but `ping`, which keeps a
connection, not a learner). The conversation closes its session after TUTOR_IDLE_TIMEOUT_S of that
(`idle_timeout`), pings or not. When the tutor is full, the session idle longest (at
least `evict_after_s`) is closed for the newcomer (`evicted`) before anyone is refused
`busy`: sockets that only ping cannot keep learners out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

from server.core import protocol as p
from server.core.config import Settings
from server.core.errors import TutorError
from server.core.metrics import ERRORS, SESSIONS
from server.session.access import client_key
from server.session.services import Services

# What sending to (or reading from) a socket whose client has left raises: Starlette's
# two (the second once it knows), and uvicorn's ClientDisconnected (an OSError).
GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)


class Refused(TutorError):
    def __init__(self, message: str, *, code: str, close_code: int) -> None:
        super().__init__(message, code)
        self.close_code = close_code


@dataclass(eq=False)
class Slot:
    """One admitted session: its channel and address, when its learner last did
    something (time.monotonic), and whether it was evicted for a newcomer."""

    channel: str
    address: str
    last_active: float = field(default_factory=time.monotonic)
    evicted: asyncio.Event = field(default_factory=asyncio.Event)
    held: bool = True  # counted in the admission's totals

    def touch(self) -> None:
        """The learner did something (not a ping)."""
        self.last_active = time.monotonic()

    def idle_s(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.last_active


class Admission:
    # A session idle this long may be closed to let a new learner in when the tutor is
    # full; one active more recently is not (it would be back in a moment).
    evict_after_s = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.by_channel: dict[str, int] = {}  # channel -> open sessions
        self.by_address: dict[str, int] = {}  # client address -> open sockets
        self.slots: list[Slot] = []  # the sessions held, oldest first

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
        if self.open_sessions >= self.settings.max_sessions and not self._evict_idlest():
            raise Refused(
                "the tutor is at its session limit; try again shortly", code="busy", close_code=1013
            )

    def _evict_idlest(self) -> bool:
        """Free the slot of the session idle longest (at least `evict_after_s`): it is
        released now, and its conversation, woken, says `evicted` and closes. False when
        every session was active more recently."""
        now = time.monotonic()
        idle = [s for s in self.slots if s.idle_s(now) >= self.evict_after_s]
        if not idle:
            return False
        victim = min(idle, key=lambda s: s.last_active)
        self._release(victim)
        victim.evicted.set()
        return True

    def _hold(self, slot: Slot) -> None:
        self.by_channel[slot.channel] = self.by_channel.get(slot.channel, 0) + 1
        self.by_address[slot.address] = self.by_address.get(slot.address, 0) + 1
        self.slots.append(slot)
        SESSIONS.labels(channel=slot.channel).inc()

    def _release(self, slot: Slot) -> None:
        if not slot.held:
            return
        slot.held = False
        self.slots.remove(slot)
        self.by_channel[slot.channel] -= 1
        self.by_address[slot.address] -= 1
        if not self.by_address[slot.address]:
            del self.by_address[slot.address]
        SESSIONS.labels(channel=slot.channel).dec()

    @contextlib.asynccontextmanager
    async def admit(
        self, ws: WebSocket, services: Services, channel: str
    ) -> AsyncIterator[Slot | None]:
        """Accept the socket and yield its Slot while it holds a session (None: refused,
        and told why); on the way out the counts go down and the socket is closed."""
        await ws.accept()
        try:
            self.check(ws, services)
        except Refused as exc:
            await refuse(ws, exc.code, exc.message, exc.close_code)
            yield None
            return
        slot = Slot(channel, client_key(ws))
        self._hold(slot)
        try:
            yield slot
        finally:
            self._release(slot)
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
