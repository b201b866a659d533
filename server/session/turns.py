"""One question-and-answer turn, for every channel (HTTP, text chat, voice, lessons).

In: a session id and a question. Out: the answer stream, with the turn committed to
SQLite before the final `Answer` is handed on, so a turn acknowledged to a client is on
disk. History for follow-ups is read from the store: what the learner heard of each
answer when the voice channel knows it, else the whole answer."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

from server.core.errors import TutorError
from server.core.metrics import STAGE_SECONDS, TURNS
from server.core.protocol import visible
from server.reason.answer.commands import PastTurn
from server.reason.answer.respond import Answer, AnswerDelta, Answerer, clean_question
from server.storage.store import Store
from server.teach import record_asked

log = logging.getLogger(__name__)
PAST_TURNS = 20  # enough to know what a conversation has covered
# At start the server loads its index in the background (services.load_index): a question
# asked before it is ready waits for it, this long at most (then the index as it is
# answers, and an empty one declines). The default of TUTOR_INDEX_WAIT_S.
INDEX_WAIT_S = 120.0


class TurnRunner:
    def __init__(
        self,
        store: Store,
        answerer: Answerer,
        history_turns: int = 3,
        index_wait_s: float = INDEX_WAIT_S,
    ) -> None:
        self.store = store
        self.index_wait_s = index_wait_s
        self.answerer = answerer
        self.history_turns = history_turns
        self.index_ready: threading.Event | None = None  # None: always ready

    async def _index_loaded(self) -> None:
        ready = self.index_ready
        if ready is None or ready.is_set():
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + self.index_wait_s
        while not ready.is_set() and loop.time() < until:
            await asyncio.sleep(0.05)

    def history(self, turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """The LLM's history from the session's stored turns: the last `history_turns`."""
        if self.history_turns == 0:
            return []
        return [
            (t["question"], t["heard"] if t["heard"] is not None else t["answer"])
            for t in turns[-self.history_turns :]
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
        suggest: bool = True,
        learner_id: str | None = None,
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """`commit_gate`: a speculative turn (started before the learner's turn ended)
        is committed only once the gate opens; cancelled before that, it leaves no trace.
        `learner_id`: a grounded answer counts toward that learner's progress."""
        question = clean_question(visible(question))  # zero-width characters unread
        if not question:
            raise TutorError("the question is empty", code="empty_question")
        turn_id = turn_id or uuid.uuid4().hex[:12]
        await self._index_loaded()
        # The session's turns as stored (whole answers, with their sources): the LLM's
        # history, "say that again" repeats one, and suggestions skip what was quoted.
        stored = self.store.turns(session_id, limit=max(PAST_TURNS, self.history_turns))
        history = self.history(stored)
        past = [PastTurn.from_row(t) for t in stored[-PAST_TURNS:]]
        async for item in self.answerer.stream(
            question, history, prefer_article, deadline, past=past, suggest=suggest
        ):
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
                if item.grounded:  # what the learner asked about counts toward progress
                    record_asked(self.store, learner_id, item.sources)
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
