"""Spaced review with FSRS (the `fsrs` package, v6: Scheduler, Card, Rating).

In: a graded quiz answer (right / partly / not_yet) and the item's stored card, if any.
Out: the updated card (JSON) and when the item is due again; a mastery level from it.

Grades map to FSRS ratings: right -> Good, partly -> Hard, not_yet -> Again. A new card
answered right comes back after the second learning step (10 minutes), partly after
5.5 minutes, missed after 1 minute; a card in review that is missed goes back to
relearning (10 minutes) instead of its days-long interval. So a missed item is always
due sooner than it would be had it been answered right.

A card belongs to a quiz item, identified by `points.item_key` (so it survives lesson
rebuilds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fsrs import Card, Rating, Scheduler, State

from server.lessons.quiz import Grade

RATING: dict[str, Rating] = {"right": Rating.Good, "partly": Rating.Hard, "not_yet": Rating.Again}
# No fuzz: a learner has few cards, so spreading their due dates gains nothing, and the
# due time the progress view shows should be the one the card keeps.
SCHEDULER = Scheduler(enable_fuzzing=False)
Mastery = Literal["none", "learning", "familiar", "mastered"]


@dataclass(frozen=True)
class Scheduled:
    card: str  # JSON: Card.to_dict()
    due: float  # unix seconds
    state: str  # learning | review | relearning


def schedule(card_json: str | None, grade: Grade, at: float, card_id: int = 0) -> Scheduled:
    """Review the card (a new one when None) with the grade's rating at unix time `at`."""
    # A fixed card_id: fsrs makes one from the clock otherwise, sleeping 1 ms to do so.
    card = Card.from_dict(json.loads(card_json)) if card_json else Card(card_id=card_id)
    when = datetime.fromtimestamp(at, UTC)
    card, _ = SCHEDULER.review_card(card, RATING[grade], review_datetime=when)
    return Scheduled(json.dumps(card.to_dict()), card.due.timestamp(), card.state.name.lower())


def recall(card_json: str, at: float) -> float:
    """FSRS's chance the learner recalls the item at unix time `at` (0..1)."""
    card = Card.from_dict(json.loads(card_json))
    return round(SCHEDULER.get_card_retrievability(card, datetime.fromtimestamp(at, UTC)), 3)


def mastery(last_grade: str | None, card_json: str | None) -> Mastery:
    """none: never quizzed; learning: last answer not right; familiar: right, but FSRS
    has not yet moved it to review (one right answer); mastered: right and in review
    (right again after its learning steps, with no miss since)."""
    if last_grade is None or card_json is None:
        return "none"
    if last_grade != "right":
        return "learning"
    in_review = Card.from_dict(json.loads(card_json)).state == State.Review
    return "mastered" if in_review else "familiar"
