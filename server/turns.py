"""One question-and-answer turn, for every channel (HTTP, text chat, voice, lessons).

In: a session id and a question. Out: the answer stream, with the turn committed to
SQLite before the final `Answer` is handed on, so a turn acknowledged to a client is on
disk. History for follow-ups is read from the store: what the learner heard of each
answer when the voice channel knows it, else the whole answer."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from server.errors import TutorError
from server.metrics import STAGE_SECONDS, TURNS
from server.reason.respond import Answer, AnswerDelta, Answerer, clean_question
from server.store import Store

if TYPE_CHECKING:
    from server.listen.transcribe import Heard
    from server.protocol import ServerEvent
    from server.speak.transmit import Speaker

log = logging.getLogger(__name__)


class Outlet(Protocol):
    """Where a turn's events and audio go (the conversation's websocket)."""

    async def send(self, event: ServerEvent | dict[str, Any]) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...


class TurnRunner:
    def __init__(self, store: Store, answerer: Answerer, history_turns: int = 3) -> None:
        self.store = store
        self.answerer = answerer
        self.history_turns = history_turns

    def history(self, session_id: str) -> list[tuple[str, str]]:
        if self.history_turns == 0:
            return []
        turns = self.store.turns(session_id, limit=self.history_turns)
        return [
            (t["question"], t["heard"] if t["heard"] is not None else t["answer"]) for t in turns
        ]

    async def run(
        self,
        session_id: str,
        question: str,
        *,
        channel: str,
        turn_id: str | None = None,
        prefer_article: int | None = None,
        extra_timings: dict[str, float] | None = None,
        deadline: float | None = None,
        commit_gate: asyncio.Event | None = None,
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """`commit_gate`: a speculative turn (started before the learner's turn ended)
        is committed only once the gate opens; cancelled before that, it leaves no trace."""
        question = clean_question(question)
        if not question:
            raise TutorError("the question is empty", code="empty_question")
        turn_id = turn_id or uuid.uuid4().hex[:12]
        history = self.history(session_id)
        async for item in self.answerer.stream(question, history, prefer_article, deadline):
            if isinstance(item, Answer):
                if commit_gate is not None:
                    await commit_gate.wait()
                timings = {**(extra_timings or {}), **item.timings}
                item.timings = timings
                self.store.add_turn(
                    session_id,
                    turn_id,
                    question,
                    item.text,
                    item.grounded,
                    [s.to_dict() for s in item.sources],
                    timings,
                )
                TURNS.labels(channel=channel, grounded=str(item.grounded).lower()).inc()
                for stage, seconds in timings.items():
                    STAGE_SECONDS.labels(stage=stage).observe(seconds)
                log.info(
                    "turn %s/%s %s grounded=%s fallback=%s %s",
                    session_id[:8],
                    turn_id,
                    channel,
                    item.grounded,
                    item.fallback,
                    " ".join(f"{k}={v * 1000:.0f}ms" for k, v in timings.items()),
                )
            yield item


class Gate:
    """A turn's way out to the client. A speculative turn (started on the early
    transcript, while the learner's turn may not be over) holds everything it would send
    until `open()`; an ordinary turn's gate is open from the start."""

    def __init__(self, conversation: Outlet, open_: bool) -> None:
        self.conversation = conversation
        self.opened = asyncio.Event()
        if open_:
            self.opened.set()
        self._held: list[ServerEvent | dict[str, Any] | bytes] = []
        self.first_audio_at: float | None = None

    async def send(self, event: ServerEvent | dict[str, Any]) -> None:
        if self.opened.is_set():
            await self.conversation.send(event)
        else:
            self._held.append(event)

    async def send_bytes(self, data: bytes) -> None:
        if not self.opened.is_set():
            self._held.append(data)
            return
        await self.conversation.send_bytes(data)
        if self.first_audio_at is None:
            self.first_audio_at = time.perf_counter()

    async def open(self) -> None:
        """Send what was held, in order, then let the turn speak directly."""
        while self._held:
            item = self._held.pop(0)
            if isinstance(item, bytes):
                await self.conversation.send_bytes(item)
                if self.first_audio_at is None:
                    self.first_audio_at = time.perf_counter()
            else:
                await self.conversation.send(item)
        self.opened.set()  # no await since the loop saw it empty: nothing slips past


class Turn:
    """A running answer: its task, its speaker, its gate, and what was said so far."""

    def __init__(
        self, conversation: Outlet, turn_id: str, question: str, speculative: bool = False
    ) -> None:
        self.turn_id = turn_id
        self.question = question
        self.gate = Gate(conversation, open_=not speculative)
        self.task: asyncio.Task | None = None
        self.speaker: Speaker | None = None
        self.said: list[str] = []
        self.committed = False
        self.heard: Heard | None = None
        self.timings: dict[str, float] = {}

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def audio_may_be_playing(self) -> bool:
        if self.speaker is None or self.gate.first_audio_at is None:
            return False
        elapsed = 1000 * (time.perf_counter() - self.gate.first_audio_at)
        return elapsed < self.speaker.sent_ms + 300
