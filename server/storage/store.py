"""Storage: articles (with their paragraphs), learners (with the hash of each one's
secret), sessions (with the hash of each one's resume secret, and the learner they belong
to) and turns, in SQLite (one file in the
data folder) or Postgres (TUTOR_DATABASE_URL; server/storage/database.py hides the difference).

Every write is one short transaction, committed before the caller moves on: a turn
acknowledged to a client is stored. Other modules keep their own tables through
`ensure_schema`, `query` and `transaction` (lessons/records.py, teach/learners.py), with
SQL that both databases run: `?` placeholders, `ON CONFLICT`, `RETURNING`."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.core.documents import Article, Document
from server.core.errors import NotFound, shown
from server.storage.database import (
    AddColumn,
    Connection,
    Database,
    Schema,
    SQLiteDatabase,
    open_database,
)

SCHEMA = Schema(
    "store",
    (
        """
CREATE TABLE IF NOT EXISTS articles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL,
    site         TEXT,
    author       TEXT,
    published    TEXT,
    source       TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    body         TEXT NOT NULL,          -- paragraphs joined by blank lines
    word_count   INTEGER NOT NULL,
    added_at     REAL NOT NULL,
    details      TEXT                    -- JSON: reading time, updated, author's line
);
-- A learner: made by the server at a hello, its secret's hash added below (AddColumn).
CREATE TABLE IF NOT EXISTS learners (
    id           TEXT PRIMARY KEY,
    display_name TEXT,
    speed        REAL NOT NULL DEFAULT 1.0, -- speaking speed, 1.0 normal (server/teach)
    created_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    created_at  REAL NOT NULL,
    secret_hash TEXT,                    -- sha256 of the resume secret (NULL: none)
    learner_id  TEXT REFERENCES learners(id) ON DELETE CASCADE  -- NULL: anonymous
);
CREATE TABLE IF NOT EXISTS turns (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    turn_id     TEXT NOT NULL,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    grounded    INTEGER NOT NULL,
    sources     TEXT NOT NULL,           -- JSON list
    timings     TEXT NOT NULL,           -- JSON object, seconds per stage
    heard       TEXT,                    -- the part of the answer the learner heard
    created_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session_id, id);
""",
        # Files made before these columns: the CREATE above leaves their tables as they were.
        AddColumn("articles", "details", "TEXT"),  # page details
        AddColumn("sessions", "secret_hash", "TEXT"),  # resume secrets
        AddColumn("sessions", "learner_id", "TEXT REFERENCES learners(id) ON DELETE CASCADE"),
        # After the migration: an old sessions table has no learner_id before it.
        "CREATE INDEX IF NOT EXISTS sessions_by_learner ON sessions(learner_id)",
        # Learners' secrets (sha256, like sessions'). NULL: a learner from before them,
        # whose browser gets one at its next hello (`open_learner`).
        AddColumn("learners", "secret_hash", "TEXT"),
    ),
)


@dataclass(frozen=True)
class SessionGrant:
    """A session a client may write to: its id, the secret that continues it (the client
    keeps it; only its hash is stored), and whether it continued an earlier one."""

    id: str
    secret: str
    resumed: bool


@dataclass(frozen=True)
class LearnerGrant:
    """A learner a client may act for: its id and, when this call issued it (a new
    learner, or one from before secrets), its secret, which only the client keeps."""

    id: str
    secret: str | None = None

    @property
    def issued(self) -> bool:
        return self.secret is not None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _matches(stored: str | None, secret: str | None) -> bool:
    """Whether `secret` is the one whose hash is `stored` (never for no hash or no secret);
    compared in constant time."""
    if not stored or not secret:
        return False
    return hmac.compare_digest(stored, _digest(secret))


class Store:
    def __init__(self, location: Path | str) -> None:
        """`location`: an SQLite file's path, or a postgresql:// URL."""
        self.db: Database = open_database(location)
        self._schemas: set[str] = set()  # schemas brought up to date by this store
        try:
            self.ensure_schema(SCHEMA)
        except BaseException:
            self.db.close()
            raise

    @property
    def kind(self) -> str:
        return self.db.kind

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on Postgres)."""
        return self.db.path if isinstance(self.db, SQLiteDatabase) else None

    def describe(self) -> dict[str, Any]:
        """Where the data is (/healthz): the SQLite file's name, or the Postgres host,
        port and database (never the password)."""
        return self.db.describe()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.db.transaction() as db:
            yield db

    def ensure_schema(self, schema: Schema) -> None:
        """Bring a module's tables (server/storage/database.py's `Schema`) up to date, once per
        open store."""
        if schema.name in self._schemas:
            return
        self.db.migrate(schema)
        self._schemas.add(schema.name)

    def query(self, schema: Schema, sql: str, *args: Any) -> list[Any]:
        """Rows from a module's own tables (made first if need be)."""
        self.ensure_schema(schema)
        return self._rows(sql, *args)

    def _rows(self, sql: str, *args: Any) -> list[Any]:
        with self.db.read() as db:
            return db.execute(sql, args).fetchall()

    def close(self) -> None:
        self.db.close()

    # --- articles ---------------------------------------------------------------------

    def add_article(self, doc: Document) -> tuple[Article, bool]:
        """Insert a document; returns (article, created). The same text twice is one
        article (also when two processes add it at once: the insert is a no-op then)."""
        with self.transaction() as db:
            row = db.execute(
                "INSERT INTO articles (title, site, author, published, source, content_hash,"
                " body, word_count, added_at, details) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (content_hash) DO NOTHING RETURNING *",
                (
                    doc.title,
                    doc.site,
                    doc.author,
                    doc.published,
                    doc.source,
                    doc.content_hash,
                    doc.text,
                    doc.word_count,
                    time.time(),
                    json.dumps(doc.details) if doc.details else None,
                ),
            ).fetchall()  # (fetchone would leave SQLite's statement open at COMMIT)
            if row:
                return _article(row[0]), True
            row = db.execute(
                "SELECT * FROM articles WHERE content_hash = ?", (doc.content_hash,)
            ).fetchone()
            return _article(row), False

    def add_details(self, doc: Document) -> bool:
        """Give an article stored before page details were read (the same text) the
        document's details; whether one was changed. Never adds an article."""
        if not doc.details:
            return False
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE articles SET details = ? WHERE content_hash = ? AND details IS NULL",
                (json.dumps(doc.details), doc.content_hash),
            )
            return cur.rowcount > 0

    def articles(self) -> list[Article]:
        return [_article(r) for r in self._rows("SELECT * FROM articles ORDER BY id")]

    def article(self, article_id: int) -> Article:
        rows = self._rows("SELECT * FROM articles WHERE id = ?", article_id)
        if not rows:
            raise NotFound(f"no article with id {article_id}")
        return _article(rows[0])

    def delete_article(self, article_id: int) -> None:
        with self.transaction() as db:
            if db.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount == 0:
                raise NotFound(f"no article with id {article_id}")

    def article_stamp(self) -> str:
        """The library's contents in a few bytes (each article's id, text hash and whether
        its details are in): when another host sharing the database adds, removes or
        completes an article, this changes."""
        rows = self._rows("SELECT id, content_hash, details IS NOT NULL FROM articles ORDER BY id")
        listed = json.dumps([[row[0], row[1], bool(row[2])] for row in rows])
        return hashlib.sha256(listed.encode()).hexdigest()[:16]

    def article_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM articles")[0][0])

    # --- learners ---------------------------------------------------------------------

    def new_learner(self) -> LearnerGrant:
        """A new learner: an id and a secret of the server's making (16 and 32 random
        bytes); only the secret's hash is stored."""
        grant = LearnerGrant(secrets.token_urlsafe(16), secrets.token_urlsafe(32))
        with self.transaction() as db:
            db.execute(
                "INSERT INTO learners (id, created_at, secret_hash) VALUES (?, ?, ?)",
                (grant.id, time.time(), _digest(grant.secret or "")),
            )
        return grant

    def learner_ok(self, learner_id: str, secret: str | None) -> bool:
        """Whether `secret` is this learner's. False alike for an unknown learner, a
        wrong or missing secret, and a learner from before secrets (until its hello)."""
        rows = self._rows("SELECT secret_hash FROM learners WHERE id = ?", learner_id)
        return bool(rows) and _matches(rows[0]["secret_hash"], secret)

    def open_learner(
        self, learner_id: str | None, secret: str | None, create: bool = False
    ) -> LearnerGrant | None:
        """Who a hello speaks for: the learner named, with its secret; or a learner from
        before secrets (no hash stored) named by the browser that made its id, which is
        given a secret now (the first to name it after the upgrade claims it); else, with
        `create`, a new learner; else None (anonymous). A learner id is never created as
        a client names it."""
        if learner_id:
            rows = self._rows("SELECT secret_hash FROM learners WHERE id = ?", learner_id)
            stored = rows[0]["secret_hash"] if rows else None
            if _matches(stored, secret):
                return LearnerGrant(learner_id)
            if rows and stored is None:
                claimed = secrets.token_urlsafe(32)
                with self.transaction() as db:
                    won = db.execute(
                        "UPDATE learners SET secret_hash = ? WHERE id = ? AND secret_hash IS NULL",
                        (_digest(claimed), learner_id),
                    ).rowcount
                if won:
                    return LearnerGrant(learner_id, claimed)
        return self.new_learner() if create else None

    # --- sessions and turns -----------------------------------------------------------

    def open_session(
        self, session_id: str | None, secret: str | None, learner_id: str | None = None
    ) -> SessionGrant:
        """Continue `session_id` if `secret` is its resume secret; otherwise start a new
        session with a new id and secret. A made-up or someone else's id is never
        continued, nor created under that id: a session is its secret's holder's.

        `learner_id` (checked by the caller with its secret: `open_learner`,
        `learner_ok`) is who the session belongs to; one that is not in the store (erased
        meanwhile) leaves the session anonymous, and is never made here. A session of
        another learner is not continued (its turns stay in that learner's export and
        erasure); a session from before learners is claimed by the first learner to
        continue it."""
        if session_id and secret:
            rows = self._rows(
                "SELECT secret_hash, learner_id FROM sessions WHERE id = ?", session_id
            )
            stored = rows[0]["secret_hash"] if rows else None
            owner = rows[0]["learner_id"] if rows else None
            if _matches(stored, secret) and (learner_id is None or owner in (None, learner_id)):
                claimed = True
                if learner_id is not None and owner is None:
                    with self.transaction() as db:
                        # Unless another tutor process let a learner claim it meanwhile
                        # (or the learner is gone).
                        claimed = (
                            db.execute(
                                "UPDATE sessions SET learner_id = ? WHERE id = ?"
                                " AND (learner_id IS NULL OR learner_id = ?)"
                                " AND EXISTS (SELECT 1 FROM learners WHERE id = ?)",
                                (learner_id, session_id, learner_id, learner_id),
                            ).rowcount
                            > 0
                        )
                if claimed:
                    return SessionGrant(session_id, secret, resumed=True)
        grant = SessionGrant(uuid.uuid4().hex, secrets.token_urlsafe(24), resumed=False)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sessions (id, created_at, secret_hash, learner_id)"
                " VALUES (?, ?, ?, (SELECT id FROM learners WHERE id = ?))",
                (grant.id, time.time(), _digest(grant.secret), learner_id),
            )
        return grant

    def session_readable(
        self, session_id: str, session_secret: str | None, learner_secret: str | None
    ) -> bool:
        """Whether a client may read the session's transcript: it holds the session's
        secret, or the secret of the learner the session belongs to. False alike for an
        unknown session and a wrong secret."""
        rows = self._rows(
            "SELECT s.secret_hash, l.secret_hash FROM sessions s"
            " LEFT JOIN learners l ON l.id = s.learner_id WHERE s.id = ?",
            session_id,
        )
        if not rows:
            return False
        return _matches(rows[0][0], session_secret) or _matches(rows[0][1], learner_secret)

    def add_turn(
        self,
        session_id: str,
        turn_id: str,
        question: str,
        answer: str,
        grounded: bool,
        sources: list[dict[str, Any]],
        timings: dict[str, float],
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO turns (session_id, turn_id, question, answer, grounded, sources,"
                " timings, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    turn_id,
                    question,
                    answer,
                    int(grounded),
                    json.dumps(sources),
                    json.dumps(timings),
                    time.time(),
                ),
            )

    def set_heard(self, session_id: str, turn_id: str, heard: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE turns SET heard = ? WHERE session_id = ? AND turn_id = ?",
                (heard, session_id, turn_id),
            )

    def turns(self, session_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        if not self._rows("SELECT 1 FROM sessions WHERE id = ?", session_id):
            raise NotFound(f"no session {shown(session_id)}")
        if limit is None:
            rows = self._rows("SELECT * FROM turns WHERE session_id = ? ORDER BY id", session_id)
        else:
            rows = self._rows(
                "SELECT * FROM (SELECT * FROM turns WHERE session_id = ? ORDER BY id DESC"
                " LIMIT ?) AS recent ORDER BY id",
                session_id,
                limit,
            )
        return [
            {
                "turn_id": r["turn_id"],
                "question": r["question"],
                "answer": r["answer"],
                "heard": r["heard"],
                "grounded": bool(r["grounded"]),
                "sources": json.loads(r["sources"]),
                "timings": json.loads(r["timings"]),
                "created_at": r["created_at"],
            }
            for r in rows
        ]


def _article(row: Any) -> Article:
    return Article(
        id=row["id"],
        title=row["title"],
        site=row["site"],
        author=row["author"],
        published=row["published"],
        source=row["source"],
        content_hash=row["content_hash"],
        body=row["body"],
        word_count=row["word_count"],
        details=json.loads(row["details"]) if row["details"] else {},
    )
