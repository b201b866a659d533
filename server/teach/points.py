"""Key points: which sentences of an article a learner should meet, and their identity.

A key point is one sentence of an article, identified by `point_key`: a hash of its words
(lower-case, punctuation and spacing dropped), kept beside the article id. It does not
depend on the lesson, the script version or a segment's index, so progress survives
rebuilds: a rebuilt lesson that teaches the same sentence teaches the same point, and an
answer that quotes it (sources are verbatim sentences) asks about the same point.

An article's key points are the sentences its lessons teach as points and test in their
quizzes (the article's own lesson and the lesson across all articles), in article order.

A quiz item is identified by `item_key`: its article, its source sentence and its
expected answer, not its lesson or its index there, so its review card survives lesson
rebuilds and is shared by the article's lesson and the lesson across all articles."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from server.lessons import records
from server.lessons.quiz import QuizQuestion
from server.lessons.records import StoredLesson
from server.reason.answer.cite import Source
from server.reason.text import sentences, words
from server.storage.store import Store
from server.teach.learners import PointRef


def norm(text: str) -> str:
    """Text as its words: the same sentence with other quotes, dashes or spacing is the
    same sentence."""
    return " ".join(words(text))


def item_key(question: QuizQuestion) -> str:
    source = question.source
    raw = f"{source.article_id}\n{norm(source.quote)}\n{norm(question.answer)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def point_key(text: str) -> str:
    return hashlib.sha256(norm(text).encode()).hexdigest()[:16]


def ref(source: Source) -> PointRef:
    """The point a one-sentence source (a lesson's point, a quiz item) stands for."""
    return PointRef(source.article_id, point_key(source.quote), source.quote, source.paragraph)


def refs_in(source: Source) -> list[PointRef]:
    """The points an answer's source quotes: one per sentence (a quote may join several
    sentences of one paragraph)."""
    return [
        PointRef(source.article_id, point_key(s), s, source.paragraph)
        for s in sentences(source.quote)
        if norm(s)
    ]


@dataclass(frozen=True)
class KeyPoint:
    article_id: int
    point: str
    text: str
    paragraph: int | None
    lesson_id: int  # a lesson and segment that teach it (the article's own first)
    segment: int | None  # None: only its quiz tests it
    items: tuple[str, ...]  # item_key of the quiz items that test it


@dataclass(frozen=True)
class QuizItem:
    """Where a quiz item can be asked now (`quiz.ask {lesson_id, question}`)."""

    lesson_id: int
    question: int
    text: str


def key_points(store: Store) -> dict[int, list[KeyPoint]]:
    """article id -> its key points, in article order."""
    found: dict[tuple[int, str], KeyPoint] = {}
    # The article's own lesson first (its ids equal the article's), then lesson 0.
    lessons = sorted(records.load_all(store), key=lambda lesson: lesson.article_id is None)
    for lesson in lessons:
        for segment in lesson.script.segments:
            if segment.kind == "point":
                for source in segment.sources:
                    _add(found, ref(source), lesson.id, segment.index, None)
        for question in lesson.script.quiz:
            _add(found, ref(question.source), lesson.id, None, item_key(question))
    by_article: dict[int, list[KeyPoint]] = {}
    for point in found.values():
        by_article.setdefault(point.article_id, []).append(point)
    for points in by_article.values():
        points.sort(key=lambda p: (p.paragraph is None, p.paragraph, p.text))
    return by_article


def _add(
    found: dict[tuple[int, str], KeyPoint],
    ref: PointRef,
    lesson_id: int,
    segment: int | None,
    item: str | None,
) -> None:
    key = (ref.article_id, ref.point)
    old = found.get(key)
    items = old.items if old else ()
    if item and item not in items:
        items += (item,)
    if old is None or (old.segment is None and segment is not None):
        place = (lesson_id, segment)  # a segment that teaches it beats a quiz that tests it
    else:
        place = (old.lesson_id, old.segment)
    text, paragraph = (old.text, old.paragraph) if old else (ref.text, ref.paragraph)
    found[key] = KeyPoint(*key, text, paragraph, *place, items)


def quiz_items(lessons: list[StoredLesson]) -> dict[str, list[QuizItem]]:
    """item_key -> where it can be asked in the lessons as built now."""
    out: dict[str, list[QuizItem]] = {}
    for lesson in lessons:
        for question in lesson.script.quiz:
            out.setdefault(item_key(question), []).append(
                QuizItem(lesson.id, question.index, question.question)
            )
    return out
