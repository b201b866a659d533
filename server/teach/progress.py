"""A learner's progress and due review, as the routes serve them.

In: the store (articles, lessons, the learner's points and cards) and the time. Out:

- `progress`: per article, each key point with how far the learner got with it (`new`,
  `heard` in a lesson, `asked` about, `quizzed`: the furthest reached), its mastery from
  quiz results (none / learning / familiar / mastered, server/teach/review.py), FSRS's
  recall chance and when it is next due; counts per article; and `next`, the one thing to
  do now: a due review first, else the first segment that teaches a new point.
- `due_review`: the quiz items due now, each where it can be asked in the lessons as they
  are built now (an item whose lesson no longer has it cannot be asked and is left out)."""

from __future__ import annotations

from typing import Any

from server.lessons import records
from server.storage.store import Store
from server.teach import learners
from server.teach.learners import CardRow, PointRow
from server.teach.points import KeyPoint, key_points, quiz_items
from server.teach.review import mastery, recall

STATES = ("new", "heard", "asked", "quizzed")  # in order: the furthest reached wins


def progress(store: Store, learner_id: str, now: float) -> dict[str, Any]:
    met = {(p.article_id, p.point): p for p in learners.points(store, learner_id)}
    cards = learners.cards(store, learner_id)
    by_point: dict[tuple[int, str], list[CardRow]] = {}
    for c in cards:
        by_point.setdefault((c.article_id, c.point), []).append(c)
    taught = key_points(store)
    articles = []
    next_lesson: dict[str, Any] | None = None
    for article in store.articles():
        points = [
            _point(k, met.get((k.article_id, k.point)), by_point.get((k.article_id, k.point)), now)
            for k in taught.get(article.id, [])
        ]
        counts = {state: 0 for state in STATES} | {"mastered": 0, "due": 0}
        for point in points:
            counts[point["state"]] += 1
            counts["mastered"] += point["mastery"] == "mastered"
            counts["due"] += point["due"] is not None and point["due"] <= now
        if next_lesson is None:
            fresh = next(
                (p for p in points if p["state"] == "new" and p["segment"] is not None), None
            )
            if fresh is not None:
                next_lesson = {
                    "kind": "lesson",
                    "lesson_id": fresh["lesson_id"],
                    "segment": fresh["segment"],
                }
        known = {k.point for k in taught.get(article.id, [])}
        articles.append(
            {
                "article_id": article.id,
                "title": article.title,
                "points": points,
                "counts": counts,
                # Sentences answers quoted that no lesson teaches as a point.
                "asked_elsewhere": sum(
                    1
                    for (a, point), row in met.items()
                    if a == article.id and point not in known and row.asked_at
                ),
            }
        )
    due = due_review(store, learner_id, now)
    first_due = due["items"][0] if due["items"] else None
    return {
        "learner_id": learner_id,
        "now": now,
        "articles": articles,
        "next": {"kind": "review", **first_due} if first_due else next_lesson,
    }


def _point(
    key: KeyPoint, row: PointRow | None, cards: list[CardRow] | None, now: float
) -> dict[str, Any]:
    reached = 0
    if row is not None:
        for i, at in enumerate((row.heard_at, row.asked_at, row.quizzed_at), start=1):
            if at is not None:
                reached = i
    latest = max(cards, key=lambda c: c.updated_at) if cards else None
    return {
        "point": key.point,
        "text": key.text,
        "paragraph": key.paragraph,
        "lesson_id": key.lesson_id,
        "segment": key.segment,
        "state": STATES[reached],
        "mastery": mastery(latest.last_grade if latest else None, latest.card if latest else None),
        "recall": recall(latest.card, now) if latest else None,
        "due": min(c.due for c in cards) if cards else None,
    }


def due_review(store: Store, learner_id: str, now: float) -> dict[str, Any]:
    """Items due by `now`, soonest first; `upcoming`: how many are due later, and when the
    first of them is."""
    asked_where = quiz_items(records.load_all(store))
    items, later = [], []
    for c in learners.cards(store, learner_id):
        places = asked_where.get(c.item)
        if not places:
            continue  # no lesson asks it any more
        if c.due > now:
            later.append(c.due)
            continue
        # Where it was last asked, if that lesson still asks it; else anywhere it is.
        place = next((q for q in places if q.lesson_id == c.lesson_id), places[0])
        items.append(
            {
                "item": c.item,
                "lesson_id": place.lesson_id,
                "question": place.question,
                "text": place.text,
                "article_id": c.article_id,
                "due": c.due,
                "last_grade": c.last_grade,
                "reviews": c.reviews,
            }
        )
    return {
        "learner_id": learner_id,
        "now": now,
        "items": items,
        "upcoming": len(later),
        "next_due": min(later) if later else None,
    }
