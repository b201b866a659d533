"""Lesson scripts and quiz answers, in the tutor's database (server/storage/store.py).

`lessons` holds one row per built script, with the hash of the text it was built from, so
a lesson is rebuilt only when its article changes. Per-article lessons have the
article's id as their id (and go with the article when it is deleted); the lesson across
all articles has id 0. `quiz_answers` keeps every graded answer of a session."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from server.core.errors import NotFound
from server.lessons.script import Script
from server.storage.database import Schema
from server.storage.store import Store

ALL_ARTICLES = 0  # the id of the lesson across all articles

SCHEMA = Schema(
    "lessons",
    (
        """
CREATE TABLE IF NOT EXISTS lessons (
    id          INTEGER PRIMARY KEY,     -- the article's id, or 0: all articles
    article_id  INTEGER REFERENCES articles(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    built_from  TEXT NOT NULL,           -- script version + content hash(es)
    script      TEXT NOT NULL,           -- JSON: segments and quiz
    built_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS quiz_answers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    lesson_id   INTEGER NOT NULL,
    question    INTEGER NOT NULL,
    answer      TEXT NOT NULL,
    grade       TEXT NOT NULL,           -- right | partly | not_yet
    created_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS quiz_by_session ON quiz_answers(session_id, id);
""",
    ),
)


@dataclass(frozen=True)
class StoredLesson:
    id: int
    article_id: int | None
    title: str
    built_from: str
    built_at: float
    script: Script


def ensure_schema(store: Store) -> None:
    store.ensure_schema(SCHEMA)


def _query(store: Store, sql: str, *args: Any) -> list[Any]:
    return store.query(SCHEMA, sql, *args)


def built_from(store: Store) -> dict[int, str]:
    """lesson id -> what it was built from."""
    return {r["id"]: r["built_from"] for r in _query(store, "SELECT id, built_from FROM lessons")}


def save(store: Store, lesson_id: int, script: Script, source: str) -> None:
    ensure_schema(store)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO lessons (id, article_id, title, built_from, script, built_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET"
            " article_id = excluded.article_id, title = excluded.title,"
            " built_from = excluded.built_from, script = excluded.script,"
            " built_at = excluded.built_at",
            (
                lesson_id,
                script.article_id,
                script.title,
                source,
                json.dumps(script.to_dict()),
                time.time(),
            ),
        )


def delete(store: Store, lesson_ids: list[int]) -> None:
    ensure_schema(store)
    with store.transaction() as db:
        db.executemany("DELETE FROM lessons WHERE id = ?", [(i,) for i in lesson_ids])


def load(store: Store, lesson_id: int) -> StoredLesson:
    rows = _query(store, "SELECT * FROM lessons WHERE id = ?", lesson_id)
    if not rows:
        raise NotFound(
            f"no lesson {lesson_id} (lessons are built in the background; see GET /api/lessons)"
        )
    return _lesson(rows[0])


def load_all(store: Store) -> list[StoredLesson]:
    """Per-article lessons in article order, then the one across all articles."""
    rows = _query(store, "SELECT * FROM lessons ORDER BY id = 0, id")
    return [_lesson(r) for r in rows]


def article_for(store: Store, lesson_id: int) -> int | None:
    rows = _query(store, "SELECT article_id FROM lessons WHERE id = ?", lesson_id)
    return rows[0]["article_id"] if rows else None


def _lesson(row: Any) -> StoredLesson:
    return StoredLesson(
        row["id"],
        row["article_id"],
        row["title"],
        row["built_from"],
        row["built_at"],
        Script.from_dict(json.loads(row["script"])),
    )


def record_answer(
    store: Store, session_id: str, lesson_id: int, question: int, answer: str, grade: str
) -> None:
    ensure_schema(store)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO quiz_answers (session_id, lesson_id, question, answer, grade,"
            " created_at) VALUES (?,?,?,?,?,?)",
            (session_id, lesson_id, question, answer, grade, time.time()),
        )


def scores(store: Store, session_id: str) -> dict[str, Any]:
    """A session's quiz: counts per grade and every answer, oldest first."""
    rows = _query(store, "SELECT * FROM quiz_answers WHERE session_id = ? ORDER BY id", session_id)
    counts = {"right": 0, "partly": 0, "not_yet": 0}
    for r in rows:
        counts[r["grade"]] += 1
    answers = [
        {
            "lesson_id": r["lesson_id"],
            "question": r["question"],
            "answer": r["answer"],
            "grade": r["grade"],
            "created_at": r["created_at"],
        }
        for r in rows
    ]
    return {**counts, "answers": answers}
