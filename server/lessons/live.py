"""The spoken quiz inside one websocket session (/ws/voice or /ws/chat).

    quiz.ask {lesson_id, question} ─▶ quiz.question ─▶ (spoken question) ─▶ turn.metrics
    the learner's next answer (text, or a voice transcript)
        ─▶ grade ─▶ quiz.result {grade, feedback, quote, score} ─▶ (spoken feedback)

Speaking goes through a `Turn` of the conversation, so barge-in and `interrupt` stop a
quiz question or its feedback like any answer. The pending question lives here; the
conversation routes the learner's next utterance to `answer()` while one is pending."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from server import protocol as p
from server.errors import TutorError
from server.lessons import records
from server.lessons.quiz import QuizQuestion, grade
from server.speak.transmit import Speaker
from server.turns import Turn

if TYPE_CHECKING:
    from server.conversation import Conversation
    from server.listen.transcribe import Heard

log = logging.getLogger(__name__)


class QuizSession:
    def __init__(self, conversation: Conversation) -> None:
        self.conv = conversation
        self.pending: tuple[int, QuizQuestion] | None = None

    async def ask(self, msg: p.QuizAsk, *, speak: bool) -> None:
        """Send (and speak) a quiz question; the next answer is graded against it."""
        lessons = self.conv.services.lessons
        if lessons is None:
            raise TutorError("lessons are not available yet", code="not_ready")
        question = lessons.question(msg.lesson_id, msg.question)  # NotFound -> error event
        self.pending = (msg.lesson_id, question)
        await self._say(
            question.question,
            speak,
            lambda turn_id: p.QuizQuestionEvent(
                lesson_id=msg.lesson_id,
                question=question.index,
                text=question.question,
                turn_id=turn_id,
            ),
        )

    async def answer(self, reply: str, *, speak: bool, heard: Heard | None = None) -> None:
        """Grade the learner's reply to the pending question, record it, and give
        feedback that quotes the source sentence."""
        assert self.pending is not None
        lesson_id, question = self.pending
        self.pending = None
        graded = grade(reply, question)
        store = self.conv.services.store
        records.record_answer(
            store, self.conv.session_id, lesson_id, question.index, reply, graded.grade
        )
        counts = records.scores(store, self.conv.session_id)
        log.info(
            "quiz %s lesson %d question %d: %s (%.2f)",
            self.conv.session_id[:8],
            lesson_id,
            question.index,
            graded.grade,
            graded.share,
        )

        def event(turn_id: str) -> p.ServerEvent:
            return p.QuizResult(
                lesson_id=lesson_id,
                question=question.index,
                grade=graded.grade,
                feedback=graded.feedback,
                quote=question.source.quote,
                turn_id=turn_id,
                score=p.QuizScore(**{k: counts[k] for k in ("right", "partly", "not_yet")}),
            )

        await self._say(graded.feedback, speak, event, heard=reply if heard else None)

    async def _say(
        self,
        text: str,
        speak: bool,
        event: Callable[[str], p.ServerEvent],
        heard: str | None = None,
    ) -> None:
        """Run a conversation turn that sends `event` and, when speaking, reads `text`."""
        conv = self.conv
        if conv.turn and conv.turn.running:
            await conv.interrupt()
        turn = Turn(conv, uuid.uuid4().hex[:12], text)
        turn.committed = True  # nothing to add to the answer history on a barge-in
        if heard is not None:
            await conv.send(p.TranscriptFinal(text=heard, turn_id=turn.turn_id))
        conv.make_current(turn)
        turn.task = asyncio.create_task(self._speak(turn, text, speak, event))

    async def _speak(
        self, turn: Turn, text: str, speak: bool, event: Callable[[str], p.ServerEvent]
    ) -> None:
        conv = self.conv
        start = time.perf_counter()
        turn_id = turn.turn_id
        speaker = None
        try:
            await conv.send(event(turn_id))
            turn.said.append(text)
            if speak:
                speaker = Speaker(
                    conv.services.engines.tts, turn_id, turn.gate.send, turn.gate.send_bytes
                )
                turn.speaker = speaker
                speaker.start()
                speaker.say(text)
                speaker.finish()
                await speaker.wait()
            timings = {"quiz": time.perf_counter() - start}
            if speaker is not None:
                timings["reply_audio_seconds"] = speaker.sent_ms / 1000
            await conv.send(p.metrics_event(turn_id, timings))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed quiz turn never ends the session
            log.exception("quiz turn %s failed", turn_id)
            await conv.error("turn_failed", "sorry, the quiz failed; please try again")
        finally:
            if speaker is not None:
                speaker.cancel()
