"""The spoken quiz inside one websocket session (/ws/voice or /ws/chat).

    quiz.ask {lesson_id, question} ─▶ quiz.question ─▶ (spoken question) ─▶ turn.metrics
    the learner's next answer (text, or a voice transcript)
        ─▶ grade ─▶ quiz.result {grade, feedback, quote, score} ─▶ (spoken feedback)

Speaking goes through the session's `Replies`, so barge-in and `interrupt` stop a quiz
question or its feedback like any answer. The pending question lives here; the
conversation routes the learner's next utterance to `answer()` while one is pending."""

from __future__ import annotations

import asyncio
import logging

from server.core import protocol as p
from server.core.errors import TutorError
from server.lessons import records
from server.lessons.quiz import QuizQuestion, grade
from server.session.reply import Replies
from server.session.services import Services
from server.teach import record_quiz

log = logging.getLogger(__name__)


class QuizSession:
    def __init__(self, services: Services, replies: Replies) -> None:
        self.services = services
        self.replies = replies
        self.pending: tuple[int, QuizQuestion] | None = None

    async def ask(self, msg: p.QuizAsk, *, speak: bool) -> None:
        """Send (and speak) a quiz question; the next answer is graded against it."""
        lessons = self.services.lessons
        if lessons is None:
            raise TutorError("lessons are not available yet", code="not_ready")
        question = lessons.question(msg.lesson_id, msg.question)  # NotFound -> error event
        self.pending = (msg.lesson_id, question)
        await self.replies.say(
            question.question,
            speak=speak,
            timing="quiz",
            event=lambda turn_id: p.QuizQuestionEvent(
                lesson_id=msg.lesson_id,
                question=question.index,
                text=question.question,
                turn_id=turn_id,
                options=question.options,
                kind=question.kind,
            ),
        )

    async def answer(self, reply: str, *, speak: bool, spoken: bool = False) -> None:
        """Grade the learner's reply to the pending question, record it, and give
        feedback that quotes the source sentence."""
        assert self.pending is not None
        lesson_id, question = self.pending
        self.pending = None
        # By meaning (the sentence embedder, off the event loop) as well as by its facts.
        embedder = self.services.index.embedder
        graded = await asyncio.to_thread(grade, reply, question, embedder=embedder)
        store = self.services.store
        records.record_answer(
            store, self.replies.session_id, lesson_id, question.index, reply, graded.grade
        )
        # Progress and spaced review: the item's next due time (FSRS), per learner.
        record_quiz(store, self.replies.learner_id, lesson_id, question, graded.grade)
        counts = records.scores(store, self.replies.session_id)
        log.info(
            "quiz %s lesson %d question %d: %s (%.2f)",
            self.replies.session_id[:8],
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

        await self.replies.say(
            graded.feedback,
            speak=speak,
            event=event,
            transcript=reply if spoken else None,
            timing="quiz",
        )
