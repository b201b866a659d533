"""What the socket session and the quiz tell the teaching record (the calls the lead
wires in; each is a few milliseconds of SQL, like `Store.add_turn`).

    a lesson segment played      record_heard(store, learner_id, lesson_id, segment)
    a grounded answer given      record_asked(store, learner_id, answer.sources)
    a quiz answer graded         record_quiz(store, learner_id, lesson_id, question, grade)
    before speaking              length_scale(store, learner_id) -> Piper's length_scale

Every call takes `learner_id=None` (an anonymous session) and does nothing then; none
raises for an unknown lesson, segment, learner or a deleted article: a learner's record
is never worth failing a turn for. Nothing is written for a learner that does not exist
(one erased while its socket was open stays erased)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from server.core.errors import NotFound
from server.lessons import records
from server.lessons.quiz import Grade, QuizQuestion
from server.reason.answer.cite import Source
from server.storage.store import Store
from server.teach import learners
from server.teach.learners import CardRow
from server.teach.points import item_key, ref, refs_in
from server.teach.review import schedule

log = logging.getLogger(__name__)
MIN_SPEED, MAX_SPEED = 0.5, 2.0  # speaking speed: half to twice Piper's own pace


def record_heard(
    store: Store, learner_id: str | None, lesson_id: int, segment: int, at: float | None = None
) -> int:
    """The learner heard segment `segment` of lesson `lesson_id`: every sentence it was
    made from counts as heard. Returns the number of points marked."""
    if learner_id is None:
        return 0
    try:
        script = records.load(store, lesson_id).script
    except NotFound:
        return 0
    if not 0 <= segment < len(script.segments):
        return 0
    refs = [ref(s) for s in script.segments[segment].sources]
    return learners.mark_points(store, learner_id, refs, "heard", at or time.time())


def record_asked(
    store: Store, learner_id: str | None, sources: Sequence[Source], at: float | None = None
) -> int:
    """The learner asked a question that a (grounded) answer answered from `sources`:
    each sentence they quote counts as asked about. Returns the number of points marked."""
    if learner_id is None:
        return 0
    refs = [r for source in sources for r in refs_in(source)]
    return learners.mark_points(store, learner_id, refs, "asked", at or time.time())


def record_quiz(
    store: Store,
    learner_id: str | None,
    lesson_id: int,
    question: QuizQuestion,
    grade: Grade,
    at: float | None = None,
) -> float | None:
    """A graded quiz answer: its point counts as quizzed and its FSRS card is reviewed
    with the grade. Returns when the item is due again (unix seconds), None if nothing
    was recorded. (The answer's text is kept by `records.record_answer`, per session.)"""
    if learner_id is None:
        return None
    at = at or time.time()
    learners.mark_points(store, learner_id, [ref(question.source)], "quizzed", at)
    item = item_key(question)
    old = learners.card(store, learner_id, item)
    scheduled = schedule(old.card if old else None, grade, at, card_id=int(item[:12], 16))
    saved = learners.save_card(
        store,
        learner_id,
        CardRow(
            item=item,
            article_id=question.source.article_id,
            point=ref(question.source).point,
            lesson_id=lesson_id,
            question=question.index,
            text=question.question,
            answer=question.answer,
            quote=question.source.quote,
            card=scheduled.card,
            due=scheduled.due,
            last_grade=grade,
            reviews=(old.reviews if old else 0) + 1,
            updated_at=at,
        ),
    )
    if not saved:
        return None
    log.info(
        "review %s item %s: %s, due in %.0f s",
        learner_id[:8],
        item,
        grade,
        scheduled.due - at,
    )
    return scheduled.due


def length_scale(store: Store, learner_id: str | None) -> float:
    """Piper's length_scale for the learner's speaking speed (speed 1.25 -> 0.8: faster;
    0.8 -> 1.25: slower); 1.0 for an anonymous or unknown learner."""
    if learner_id is None:
        return 1.0
    found = learners.profile(store, learner_id)
    speed = min(MAX_SPEED, max(MIN_SPEED, found.speed)) if found else 1.0
    return round(1.0 / speed, 4)
