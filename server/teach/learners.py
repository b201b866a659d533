"""What the tutor keeps about a learner (in the tutor's database, server/storage/store.py): every
statement of server/teach is here.

In: the Store (its transactions). Out: typed rows. Tables:

- `learners` (created by store.py, where `Store.new_learner` adds one with its secret's
  hash): the profile, a display name and a speaking speed.
- `learner_points`: one row per learner per key point met, with when it was last heard
  in a lesson, asked about (quoted by an answer) and quizzed.
- `review_cards`: one FSRS card per quiz item a learner answered (server/teach/review.py).

Both of ours reference the learner and the article with ON DELETE CASCADE: erasing a
learner or deleting an article leaves no rows behind. A write for a learner or an
article that does not exist (erased meanwhile) is dropped, never an error, and never
brings an erased learner back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from server.storage.database import Schema
from server.storage.store import Store

SCHEMA = Schema(
    "teach",
    (
        """
CREATE TABLE IF NOT EXISTS learner_points (
    learner_id  TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    article_id  INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    point       TEXT NOT NULL,           -- teach.progress.point_key of the sentence
    text        TEXT NOT NULL,           -- the sentence, verbatim
    paragraph   INTEGER,
    heard_at    REAL,                    -- unix seconds, the last time (NULL: never)
    asked_at    REAL,
    quizzed_at  REAL,
    PRIMARY KEY (learner_id, article_id, point)
);
CREATE TABLE IF NOT EXISTS review_cards (
    learner_id  TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    item        TEXT NOT NULL,           -- teach.review.item_key of the quiz item
    article_id  INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    point       TEXT NOT NULL,           -- the key point it tests
    lesson_id   INTEGER NOT NULL,        -- where it was last asked, and its index there
    question    INTEGER NOT NULL,
    text        TEXT NOT NULL,           -- the question as asked
    answer      TEXT NOT NULL,           -- the expected answer
    quote       TEXT NOT NULL,           -- the sentence it tests
    card        TEXT NOT NULL,           -- JSON: fsrs.Card.to_dict()
    due         REAL NOT NULL,           -- unix seconds (the card's, for ordering)
    last_grade  TEXT NOT NULL,           -- right | partly | not_yet
    reviews     INTEGER NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (learner_id, item)
);
CREATE INDEX IF NOT EXISTS review_cards_due ON review_cards(learner_id, due);
""",
    ),
)
Mark = Literal["heard", "asked", "quizzed"]
PROFILE_FIELDS = frozenset({"display_name", "speed"})
_MARK_COLUMN: dict[Mark, str] = {"heard": "heard_at", "asked": "asked_at", "quizzed": "quizzed_at"}
_CARD_COLUMNS = (  # review_cards' columns after learner_id, in CardRow's order
    "item",
    "article_id",
    "point",
    "lesson_id",
    "question",
    "text",
    "answer",
    "quote",
    "card",
    "due",
    "last_grade",
    "reviews",
    "updated_at",
)


@dataclass(frozen=True)
class Profile:
    id: str
    display_name: str | None
    speed: float
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "speed": self.speed,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class PointRef:
    """A key point as met in a lesson, an answer or a quiz (server/teach/progress.py)."""

    article_id: int
    point: str
    text: str
    paragraph: int | None


@dataclass(frozen=True)
class PointRow:
    article_id: int
    point: str
    text: str
    paragraph: int | None
    heard_at: float | None
    asked_at: float | None
    quizzed_at: float | None


@dataclass(frozen=True)
class CardRow:
    item: str
    article_id: int
    point: str
    lesson_id: int
    question: int
    text: str
    answer: str
    quote: str
    card: str  # JSON
    due: float
    last_grade: str
    reviews: int
    updated_at: float


def ensure_schema(store: Store) -> None:
    store.ensure_schema(SCHEMA)


def _query(store: Store, sql: str, *args: Any) -> list[Any]:
    return store.query(SCHEMA, sql, *args)


# --- profile --------------------------------------------------------------------------


def profile(store: Store, learner_id: str) -> Profile | None:
    rows = _query(store, "SELECT * FROM learners WHERE id = ?", learner_id)
    if not rows:
        return None
    r = rows[0]
    return Profile(r["id"], r["display_name"], r["speed"], r["created_at"])


def save_profile(store: Store, learner_id: str, changes: dict[str, Any]) -> Profile | None:
    """Set the fields in `changes` (display_name, speed; what is left out keeps its
    value) of a learner; None for an unknown one (learners are made by the server at a
    hello, `Store.new_learner`, never here)."""
    ensure_schema(store)
    with store.transaction() as db:
        for column in PROFILE_FIELDS & changes.keys():  # a fixed set: safe in the statement
            db.execute(
                f"UPDATE learners SET {column} = ? WHERE id = ?", (changes[column], learner_id)
            )
    return profile(store, learner_id)


def sessions(store: Store, learner_id: str) -> list[dict[str, Any]]:
    rows = _query(
        store,
        "SELECT id, created_at FROM sessions WHERE learner_id = ? ORDER BY created_at, id",
        learner_id,
    )
    return [{"session_id": r["id"], "created_at": r["created_at"]} for r in rows]


def erase(store: Store, learner_id: str) -> bool:
    """Everything about the learner: its sessions go with it, and their turns and quiz
    answers with them (ON DELETE CASCADE, store.py and lessons/records.py); our own
    tables are emptied explicitly too, so nothing depends on how an old file was made."""
    ensure_schema(store)
    with store.transaction() as db:
        db.execute("DELETE FROM review_cards WHERE learner_id = ?", (learner_id,))
        db.execute("DELETE FROM learner_points WHERE learner_id = ?", (learner_id,))
        db.execute("DELETE FROM sessions WHERE learner_id = ?", (learner_id,))
        return db.execute("DELETE FROM learners WHERE id = ?", (learner_id,)).rowcount > 0


# --- key points -----------------------------------------------------------------------


def mark_points(store: Store, learner_id: str, refs: list[PointRef], what: Mark, at: float) -> int:
    """Note that the learner met these points (`what`: how) at `at`; returns how many rows
    were written (none for an unknown learner or a deleted article)."""
    ensure_schema(store)
    column = _MARK_COLUMN[what]  # from a fixed set: safe to put in the statement
    written = 0
    with store.transaction() as db:
        for ref in refs:
            written += db.execute(
                "INSERT INTO learner_points (learner_id, article_id, point, text, paragraph,"
                f" {column}) SELECT ?, ?, ?, ?, ?, ?"
                " WHERE EXISTS (SELECT 1 FROM learners WHERE id = ?)"
                " AND EXISTS (SELECT 1 FROM articles WHERE id = ?)"
                " ON CONFLICT(learner_id, article_id, point) DO UPDATE SET"
                f" {column} = excluded.{column}",
                (
                    learner_id,
                    ref.article_id,
                    ref.point,
                    ref.text,
                    ref.paragraph,
                    at,
                    learner_id,
                    ref.article_id,
                ),
            ).rowcount
    return written


def points(store: Store, learner_id: str) -> list[PointRow]:
    rows = _query(
        store,
        "SELECT * FROM learner_points WHERE learner_id = ? ORDER BY article_id, paragraph, point",
        learner_id,
    )
    return [
        PointRow(
            r["article_id"],
            r["point"],
            r["text"],
            r["paragraph"],
            r["heard_at"],
            r["asked_at"],
            r["quizzed_at"],
        )
        for r in rows
    ]


# --- review cards ---------------------------------------------------------------------


def card(store: Store, learner_id: str, item: str) -> CardRow | None:
    rows = _query(
        store, "SELECT * FROM review_cards WHERE learner_id = ? AND item = ?", learner_id, item
    )
    return _card(rows[0]) if rows else None


def cards(store: Store, learner_id: str) -> list[CardRow]:
    """The learner's cards, soonest due first."""
    rows = _query(
        store, "SELECT * FROM review_cards WHERE learner_id = ? ORDER BY due, item", learner_id
    )
    return [_card(r) for r in rows]


def save_card(store: Store, learner_id: str, row: CardRow) -> bool:
    """Insert or replace the learner's card; False for an unknown learner or article."""
    ensure_schema(store)
    with store.transaction() as db:
        return (
            db.execute(
                f"INSERT INTO review_cards (learner_id, {', '.join(_CARD_COLUMNS)})"
                " SELECT ?,?,?,?,?,?,?,?,?,?,?,?,?,?"
                " WHERE EXISTS (SELECT 1 FROM learners WHERE id = ?)"
                " AND EXISTS (SELECT 1 FROM articles WHERE id = ?)"
                " ON CONFLICT (learner_id, item) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in _CARD_COLUMNS[1:]),
                (
                    learner_id,
                    row.item,
                    row.article_id,
                    row.point,
                    row.lesson_id,
                    row.question,
                    row.text,
                    row.answer,
                    row.quote,
                    row.card,
                    row.due,
                    row.last_grade,
                    row.reviews,
                    row.updated_at,
                    learner_id,
                    row.article_id,
                ),
            ).rowcount
            > 0
        )


def _card(r: Any) -> CardRow:
    return CardRow(
        r["item"],
        r["article_id"],
        r["point"],
        r["lesson_id"],
        r["question"],
        r["text"],
        r["answer"],
        r["quote"],
        r["card"],
        r["due"],
        r["last_grade"],
        r["reviews"],
        r["updated_at"],
    )
