"""The store's whole API on both databases: SQLite (a file) and Postgres (a throwaway
server, tests/postgres.py, a fresh database per test). The same tests, the same answers:
articles, sessions, turns, lessons, quiz answers, learners, progress and review, their
cascades, the migrations, two tutor processes sharing one database; then the app itself
on Postgres (fake engines: this is about storage, not models)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.core.config import BUNDLED_CORPUS, Settings
from server.core.documents import Document
from server.core.errors import BadRequest, NotFound
from server.lessons import records
from server.lessons.script import draft, draft_all
from server.reason.answer.cite import Source
from server.storage.database import AddColumn, Schema, postgres_ddl, statements
from server.storage.library import Library
from server.storage.store import SCHEMA, LearnerGrant, Store
from server.teach import learners, record_asked, record_heard, record_quiz
from server.teach.export import export
from server.teach.progress import due_review, progress
from server.web.app import create_app
from tests.fakes import fake_engines
from tests.postgres import PostgresServer
from tests.uploads import add_article

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a store keeps its data: a new SQLite file, or a new Postgres database."""
    if request.param == "sqlite":
        return tmp_path / "t.sqlite3"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.fresh_url()


@pytest.fixture
def store(location: str | Path) -> Iterator[Store]:
    opened = Store(location)
    yield opened
    opened.close()


def doc(title: str, text: str, details: dict[str, str] | None = None) -> Document:
    return Document(title, "site", "author", "2025-01-01", (text,), f"{title}.txt", details or {})


def raw(location: str | Path, script: str) -> None:
    """SQL run beside the store (as an older tutor would have left the database)."""
    if isinstance(location, Path):
        db = sqlite3.connect(location)
        for statement in statements(script):
            db.execute(statement)
        db.commit()
        db.close()
    else:
        with psycopg.connect(location, autocommit=True) as pg:
            for statement in statements(script):
                pg.execute(postgres_ddl(statement))


def test_articles_are_added_once_listed_and_deleted(store: Store) -> None:
    first, created = store.add_article(doc("Alpacas", "Alpacas are shorn in spring."))
    again, created_again = store.add_article(doc("Alpacas again", "Alpacas are shorn in spring."))
    second, _ = store.add_article(doc("Llamas", "Llamas carry loads.\n\nThey hum."))
    assert created and not created_again and again.id == first.id
    assert [a.title for a in store.articles()] == ["Alpacas", "Llamas"]
    assert second.id > first.id and store.article_count() == 2
    assert store.article(second.id).paragraphs == ["Llamas carry loads.", "They hum."]
    assert store.article(second.id).summary()["word_count"] == 5
    store.delete_article(first.id)
    assert [a.id for a in store.articles()] == [second.id]
    with pytest.raises(NotFound):
        store.delete_article(first.id)
    with pytest.raises(NotFound):
        store.article(first.id)


def test_page_details_come_to_an_article_stored_without_them(store: Store) -> None:
    article, _ = store.add_article(doc("Alpacas", "Alpacas are shorn in spring."))
    assert article.details == {}
    later = doc("Alpacas", "Alpacas are shorn in spring.", {"reading_minutes": "2"})
    assert store.add_details(later) and not store.add_details(later)
    assert store.article(article.id).details == {"reading_minutes": "2"}
    assert not store.add_details(doc("Other", "Not stored.", {"reading_minutes": "1"}))


def test_sessions_continue_only_with_their_secret_and_learner(store: Store) -> None:
    gus, hal = store.new_learner().id, store.new_learner().id
    grant = store.open_session(None, None, gus)
    assert not grant.resumed and grant.secret
    assert store.open_session(grant.id, grant.secret, gus).resumed
    assert store.open_session(grant.id, grant.secret).resumed  # no learner named
    for secret, learner in (("guess", gus), (grant.secret, hal)):
        other = store.open_session(grant.id, secret, learner)
        assert other.id != grant.id and not other.resumed
    # A learner the store does not know (erased meanwhile) is never made: anonymous.
    anonymous = store.open_session(None, None, "made-up")
    assert learners.profile(store, "made-up") is None
    assert store._rows("SELECT learner_id FROM sessions WHERE id = ?", anonymous.id)[0][0] is None
    sessions = [s["session_id"] for s in learners.sessions(store, gus)]
    assert len(sessions) == 2 and grant.id in sessions  # with the one the wrong secret started


def test_learners_are_made_by_the_server_with_a_secret(store: Store) -> None:
    """Only the secret's hash is kept; it opens its own learner and no other; a learner
    from before secrets is given one by the first hello that names it, once."""
    amy, ben = store.new_learner(), store.new_learner()
    assert amy.id != ben.id and amy.issued and len(amy.secret or "") == 43
    assert store.learner_ok(amy.id, amy.secret) and not store.learner_ok(amy.id, ben.secret)
    assert not store.learner_ok(amy.id, None) and not store.learner_ok("nobody", amy.secret)
    [row] = store._rows("SELECT secret_hash FROM learners WHERE id = ?", amy.id)
    assert row[0] and amy.secret not in row[0]
    assert store.open_learner(amy.id, amy.secret) == LearnerGrant(amy.id)  # nothing issued
    assert store.open_learner(amy.id, ben.secret) is None
    assert store.open_learner("nobody", None) is None
    fresh = store.open_learner(amy.id, None, create=True)
    assert fresh is not None and fresh.id not in (amy.id, ben.id) and fresh.issued
    with store.transaction() as db:  # as a database from before secrets holds one
        db.execute("INSERT INTO learners (id, created_at) VALUES ('old-one', 1.0)")
    assert not store.learner_ok("old-one", "")
    claimed = store.open_learner("old-one", None)
    assert claimed is not None and claimed.id == "old-one" and claimed.issued
    assert store.learner_ok("old-one", claimed.secret)
    assert store.open_learner("old-one", None) is None  # claimed: the id alone is not enough


def test_transcripts_open_to_the_sessions_secret_or_its_learners(store: Store) -> None:
    amy, ben = store.new_learner(), store.new_learner()
    mine = store.open_session(None, None, amy.id)
    anonymous = store.open_session(None, None)
    assert store.session_readable(mine.id, mine.secret, None)
    assert store.session_readable(mine.id, None, amy.secret)
    assert not store.session_readable(mine.id, None, ben.secret)
    assert not store.session_readable(mine.id, anonymous.secret, None)
    assert not store.session_readable(mine.id, None, None)
    assert store.session_readable(anonymous.id, anonymous.secret, None)
    assert not store.session_readable(anonymous.id, None, amy.secret)
    assert not store.session_readable("nobody", mine.secret, amy.secret)


def test_turns_keep_their_order_sources_and_what_was_heard(store: Store) -> None:
    sid = store.open_session(None, None).id
    for i in range(3):
        store.add_turn(sid, f"t{i}", f"q{i}", f"a{i}", i != 1, [{"quote": f"s{i}"}], {"llm": 0.5})
    store.set_heard(sid, "t2", "a")
    turns = store.turns(sid)
    assert [t["turn_id"] for t in turns] == ["t0", "t1", "t2"]
    assert [t["grounded"] for t in turns] == [True, False, True]
    assert turns[0]["sources"] == [{"quote": "s0"}] and turns[0]["timings"] == {"llm": 0.5}
    assert turns[2]["heard"] == "a" and turns[0]["heard"] is None
    assert [t["turn_id"] for t in store.turns(sid, limit=2)] == ["t1", "t2"]
    assert isinstance(turns[0]["created_at"], float)
    with pytest.raises(NotFound):
        store.turns("nobody")


@pytest.fixture
def taught(store: Store) -> Store:
    """The bundled articles with their lessons drafted (no model: scripts only)."""
    Library(store).seed(BUNDLED_CORPUS)
    articles = store.articles()
    for article in articles:
        records.save(store, article.id, draft(article), f"v1 {article.content_hash}")
    records.save(store, records.ALL_ARTICLES, draft_all(articles), "v1 all")
    return store


def test_lessons_are_saved_replaced_loaded_and_deleted(taught: Store) -> None:
    store = taught
    ids = [a.id for a in store.articles()]
    assert [lesson.id for lesson in records.load_all(store)] == [*ids, 0]
    assert records.built_from(store)[0] == "v1 all"
    lesson = records.load(store, ids[0])
    assert lesson.article_id == ids[0] and records.article_for(store, 0) is None
    records.save(store, ids[0], lesson.script, "v2")  # a rebuild replaces it
    assert records.built_from(store)[ids[0]] == "v2"
    assert records.load(store, ids[0]).script.to_dict() == lesson.script.to_dict()
    records.delete(store, [0])
    assert [lesson.id for lesson in records.load_all(store)] == ids
    with pytest.raises(NotFound):
        records.load(store, 0)


def test_a_learners_record_progress_review_and_erasure(taught: Store) -> None:
    store = taught
    gus = store.new_learner().id
    learners.save_profile(store, gus, {"display_name": "Gus", "speed": 1.25})
    assert learners.profile(store, gus).speed == 1.25  # type: ignore[union-attr]
    sid = store.open_session(None, None, gus).id
    article = store.articles()[0]
    lesson = records.load(store, article.id)
    assert record_heard(store, gus, article.id, 1) > 0
    question = lesson.script.quiz[0]
    records.record_answer(store, sid, article.id, 0, "no idea", "not_yet")
    due = record_quiz(store, gus, article.id, question, "not_yet", at=1000.0)
    assert due is not None and due > 1000.0
    quote = article.paragraphs[0]
    asked = record_asked(store, gus, [Source(article.id, article.title, quote, 0)])
    assert asked > 0
    assert record_heard(store, "nobody", article.id, 1) == 0  # an unknown learner: nothing
    assert records.scores(store, sid)["not_yet"] == 1
    points = learners.points(store, gus)
    assert {p.article_id for p in points} == {article.id}
    assert any(p.heard_at for p in points) and any(p.quizzed_at == 1000.0 for p in points)
    [card] = learners.cards(store, gus)
    assert card.reviews == 1 and card.last_grade == "not_yet"
    record_quiz(store, gus, article.id, question, "right", at=due)  # the card is updated
    [card] = learners.cards(store, gus)
    assert card.reviews == 2 and card.last_grade == "right"
    view = progress(store, gus, due)
    counts = view["articles"][0]["counts"]
    assert counts["quizzed"] >= 1 and counts["heard"] + counts["asked"] >= 1
    assert due_review(store, gus, card.due + 1)["items"][0]["item"] == card.item
    assert export(store, gus, due)["sessions"][0]["quiz_answers"][0]["answer"] == "no idea"
    # Deleting the article takes its lesson, points and cards along.
    store.delete_article(article.id)
    assert not learners.points(store, gus) and not learners.cards(store, gus)
    assert article.id not in records.built_from(store)
    # Erasing the learner takes its sessions, their turns and quiz answers along.
    store.add_turn(sid, "t", "q", "a", True, [], {})
    assert learners.erase(store, gus) and not learners.erase(store, gus)
    assert records.scores(store, sid)["answers"] == []
    with pytest.raises(NotFound):
        store.turns(sid)
    assert learners.profile(store, gus) is None


OLD = """
CREATE TABLE articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, site TEXT, author TEXT,
    published TEXT, source TEXT NOT NULL, content_hash TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL, word_count INTEGER NOT NULL, added_at REAL NOT NULL
);
CREATE TABLE sessions (id TEXT PRIMARY KEY, created_at REAL NOT NULL);
INSERT INTO articles (title, source, content_hash, body, word_count, added_at)
    VALUES ('Old', 'old.txt', 'abc', 'An old article.', 3, 1.5);
INSERT INTO sessions VALUES ('old', 1.5)
"""


def test_a_database_from_before_the_migrations_is_brought_up_to_date(
    location: str | Path,
) -> None:
    raw(location, OLD)
    store = Store(location)
    try:
        assert "details" in store.db.columns("articles")
        assert store.db.columns("sessions") >= {"secret_hash", "learner_id"}
        assert "secret_hash" in store.db.columns("learners")  # learners' secrets
        assert store.articles()[0].details == {} and store.article_count() == 1
        assert not store.open_session("old", "anything").resumed  # it had no secret
        versions = {r[0]: r[1] for r in store._rows("SELECT name, version FROM schema_version")}
        assert versions["store"] == len(SCHEMA.steps)
        # A step appended later runs once, on the next open; the earlier ones not again.
        demo = ("CREATE TABLE IF NOT EXISTS demo (id INTEGER PRIMARY KEY, at REAL NOT NULL)",)
        store.ensure_schema(Schema("demo", demo))
        store.close()
        store = Store(location)
        store.ensure_schema(Schema("demo", (*demo, AddColumn("demo", "note", "TEXT"))))
        with store.transaction() as db:
            db.execute("INSERT INTO demo (id, at, note) VALUES (?, ?, ?)", (1, 0.125, "x%?"))
        assert [tuple(r) for r in store._rows("SELECT * FROM demo")] == [(1, 0.125, "x%?")]
        assert store._rows("SELECT version FROM schema_version WHERE name = 'demo'")[0][0] == 2
    finally:
        store.close()


def test_two_tutor_processes_share_one_database(location: str | Path) -> None:
    """Two stores on one database (two tutor hosts): each sees the other's writes, ids
    come from the database, and the same article added by both at once is one article."""
    one, two = Store(location), Store(location)
    try:
        results: list[tuple[int, bool]] = []

        def add(store: Store, i: int) -> None:
            article, created = store.add_article(doc(f"Same {i}", "The same text, twice."))
            results.append((article.id, created))
            store.add_article(doc(f"Own {i}", f"Text number {i} of its own."))

        threads = [threading.Thread(target=add, args=(s, i)) for i, s in enumerate((one, two))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({i for i, _ in results}) == 1 and sorted(c for _, c in results) == [0, 1]
        assert len({a.id for a in two.articles()}) == 3 == one.article_count()
        gus = one.new_learner()
        grant = one.open_session(None, None, gus.id)
        one.add_turn(grant.id, "t1", "q", "a", True, [], {})
        assert two.open_session(grant.id, grant.secret, gus.id).resumed
        assert two.learner_ok(gus.id, gus.secret)  # any host checks any learner's secret
        assert [t["turn_id"] for t in two.turns(grant.id)] == ["t1"]
    finally:
        one.close()
        two.close()


def test_a_library_follows_the_changes_another_process_makes(location: str | Path) -> None:
    """Its listeners (the index, the lessons) hear of another process's additions,
    page details and deletions once each, and of its own changes only once."""
    here, there = Store(location), Store(location)
    try:
        library, heard = Library(here), []
        library.on_change(lambda: heard.append(here.article_count()))
        library.seed(BUNDLED_CORPUS)
        assert heard == [1, 2] and not library.sync()
        other = Library(there)
        added, _ = other.add(doc("Alpacas", "Alpacas are shorn in spring."))
        assert library.sync() and heard == [1, 2, 3] and not library.sync()
        other.add(doc("Alpacas", "Alpacas are shorn in spring.", {"reading_minutes": "1"}))
        assert library.sync() and heard == [1, 2, 3, 3]
        library.add(doc("Llamas", "Llamas hum."))  # its own change: heard once
        other.remove(added.id)
        assert library.sync() and heard == [1, 2, 3, 3, 4, 3] and not library.sync()
    finally:
        here.close()
        there.close()


def test_postgres_keeps_full_precision_and_shows_no_password(postgres: PostgresServer) -> None:
    url = postgres.fresh_url(password="hunter2")
    store = Store(url)
    try:
        assert store.kind == "postgres" and store.path is None
        assert "hunter2" not in repr(store.describe())
        assert store.describe()["port"] == postgres.port
        sid = store.open_session(None, None).id
        store.add_turn(sid, "t", "q", "a", True, [], {"llm": 0.123456789012})
        assert store.turns(sid)[0]["timings"]["llm"] == 0.123456789012
        gus = store.new_learner().id
        learners.save_profile(store, gus, {"speed": 1.0 / 3})
        assert learners.profile(store, gus).speed == 1.0 / 3  # type: ignore[union-attr]
    finally:
        store.close()


def test_an_unreachable_postgres_is_a_config_error_naming_the_setting(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    from server.core.errors import ConfigError

    url = postgres.url("no_such_database", password="hunter2")
    settings = Settings(data_dir=tmp_path, database_url=url)
    for start in (lambda: Store(url), settings.check):
        with pytest.raises(ConfigError) as caught:
            start()  # the store, or `tutor serve` before it starts anything
        assert "TUTOR_DATABASE_URL" in caught.value.message
        assert "no_such_database" in caught.value.message
        assert "hunter2" not in caught.value.message


def test_the_database_setting_takes_only_a_postgres_url(tmp_path: Path) -> None:
    from pydantic import ValidationError

    assert Settings(data_dir=tmp_path).database == tmp_path / "tutor.sqlite3"
    url = "postgres://tutor:pw@db.example:5433/tutor"
    assert Settings(data_dir=tmp_path, database_url=f" {url} ").database == url
    assert Settings(data_dir=tmp_path, database_url="").database_url is None
    for bad in ("mysql://tutor:pw@db/tutor", "db.example/tutor"):
        with pytest.raises(ValidationError) as caught:
            Settings(database_url=bad)
        message = caught.value.errors()[0]["msg"]  # what `tutor` prints of it
        assert "postgresql://" in message and "pw@" not in message


def test_the_app_keeps_everything_in_postgres(postgres: PostgresServer, tmp_path: Path) -> None:
    """TUTOR_DATABASE_URL: an upload, a chat turn and the session's transcript, through
    the app; the rows are in Postgres and no SQLite file is made."""
    url = postgres.fresh_url(password="hunter2")
    settings = Settings(
        data_dir=tmp_path / "data",
        build_lessons=False,
        allowed_hosts=["testserver"],
        database_url=url,
    )
    alpacas = (
        b"Alpaca farming\n\nAlpacas are shorn once a year, in spring, for their soft fleece."
        b" The fleece is spun into yarn by farmers in Peru and sold at the market in Cusco.\n"
    )
    with TestClient(create_app(settings, fake_engines())) as client:
        health = client.get("/healthz").json()
        assert health["store"]["kind"] == "postgres" and "hunter2" not in str(health)
        created = add_article(client, "alpacas.txt", alpacas)
        assert created["state"] == "ready", created
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello", "new_learner": True})
            ready = _receive_until(ws, "ready")
            ws.send_json({"type": "text", "text": "What is Avocado?"})
            done = _receive_until(ws, "answer.done")
        transcript = client.get(
            f"/api/sessions/{ready['session_id']}",
            headers={"X-Learner-Secret": ready["learner_secret"]},
        ).json()
        assert [t["question"] for t in transcript["turns"]] == ["What is Avocado?"]
        assert transcript["turns"][0]["answer"] == done["text"]
        # Another tutor process deletes the article: this one follows (at its next look).
        services = client.app.state.services  # type: ignore[attr-defined]
        passages = len(services.index.passages)
        other = Library(Store(url))
        other.remove(created["article"]["id"])
        other.store.close()
        assert services.library.sync() and len(services.index.passages) < passages
    assert not settings.db_path.exists()
    with psycopg.connect(url) as pg:
        titles = {r[0] for r in pg.execute("SELECT title FROM articles").fetchall()}
        owners = pg.execute("SELECT learner_id FROM sessions").fetchall()
    # (the upload was there to remove)
    assert len(titles) == 2 and owners == [(ready["learner_id"],)]


def _receive_until(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event = ws.receive_json()
        if event["type"] == kind:
            return event


def test_a_ticket_opens_one_socket_whichever_host_checks_it(location: str | Path) -> None:
    """Two hosts on one database: a ticket either issued is taken once, by either; an
    expired one is not (and the used ones are cleared once expired)."""
    from server.session.access import TICKET_TTL_S, Access

    settings = Settings(api_token="s3cret")
    here, there = Store(location), Store(location)
    try:
        now = [1_000_000.0]
        a = Access(settings, clock=lambda: now[0], store=here)
        b = Access(settings, clock=lambda: now[0], store=there)
        first, second = a.issue_ticket(), b.issue_ticket()
        assert b.redeem_ticket(first) and not a.redeem_ticket(first)
        now[0] += TICKET_TTL_S + 1
        assert not a.redeem_ticket(second)
        with here.transaction() as db:
            assert db.execute("SELECT count(*) FROM used_tickets").fetchone()[0] == 1
        issued = b.issue_ticket()
        assert not b.redeem_ticket(issued[:-1] + ("0" if issued[-1] != "0" else "1"))  # forged
        assert b.redeem_ticket(b.issue_ticket())
        with there.transaction() as db:  # the expired record went with that use
            assert db.execute("SELECT count(*) FROM used_tickets").fetchone()[0] == 1
    finally:
        here.close()
        there.close()


def test_control_characters_are_refused_before_storage(
    location: str | Path, tmp_path: Path
) -> None:
    """A NUL (or another control character) in a question, a display name, a path, an id
    or a file's name: 400 `bad_request` (on the socket `bad_message`), and nothing is
    written, on SQLite and on Postgres (where a NUL used to be a plain-text 500). Tab and
    newline are text."""
    settings = Settings(
        data_dir=tmp_path / "data",  # (SQLite: its file in there)
        build_lessons=False,
        allowed_hosts=["testserver"],
        database_url=location if isinstance(location, str) else None,
    )
    with TestClient(create_app(settings, fake_engines())) as client:
        store: Store = client.app.state.services.store  # type: ignore[attr-defined]
        learner = store.new_learner()
        mine = {"X-Learner-Secret": learner.secret or ""}

        def counts() -> tuple[int, ...]:
            return tuple(
                store._rows(f"SELECT count(*) FROM {table}")[0][0]
                for table in ("turns", "sessions", "articles", "learners")
            )

        before = counts()
        for bad in ("What is\x00 Avocado?", "\x00", "What\x07 is Avocado?", "\x1b[31mred", "\x7f"):
            refused = client.post("/api/ask", json={"question": bad})
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.json()["error"]["code"] == "bad_request"
            assert "\x00" not in refused.text
        named = client.put(
            f"/api/learners/{learner.id}", json={"display_name": "Eve\x00"}, headers=mine
        )
        assert named.status_code == 400 and named.json()["error"]["code"] == "bad_request"
        for path in (
            "/api/sessions/a%00b",
            f"/api/learners/{learner.id}%00",
            "/api/articles/jobs/x%00",
            "/api/articles/1%00",
            "/api/lessons/1?x=%00",
        ):
            refused = client.get(path, headers=mine)
            assert refused.status_code == 400, (path, refused.text)
            assert refused.json()["error"]["code"] == "bad_request"
        for name, body in (
            (b"nul\x00.txt", b"Alpacas are shorn in spring."),
            (b"alpacas.txt", b"Alpacas are shorn in spring. " * 200 + b"\x00 and more."),
        ):
            # Written out by hand: httpx would escape the NUL in the file's name.
            form = (
                b'--b0und\r\nContent-Disposition: form-data; name="file"; filename="'
                + name
                + b'"\r\nContent-Type: text/plain\r\n\r\n'
                + body
                + b"\r\n--b0und--\r\n"
            )
            refused = client.post(
                "/api/articles",
                content=form,
                headers={"Content-Type": "multipart/form-data; boundary=b0und"},
            )
            assert refused.status_code == 400, (name, refused.text)
            assert "\x00" not in refused.text
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello"})
            _receive_until(ws, "ready")
            ws.send_json({"type": "text", "text": "What is\x00 Avocado?"})
            error = _receive_until(ws, "error")
            assert error["code"] == "bad_message" and "control" in error["message"]
        sessions = store._rows("SELECT count(*) FROM sessions")[0][0]
        assert counts() == (before[0], sessions, before[2], before[3])
        assert store.learner_ok(learner.id, learner.secret)
        assert (
            client.get(f"/api/learners/{learner.id}", headers=mine).json()["display_name"] is None
        )
        # Tab and newline are text; a question with them is answered and stored.
        fine = client.post("/api/ask", json={"question": "What\tis\nAvocado?"})
        assert fine.status_code == 200 and counts()[0] == before[0] + 1
        if store.kind == "postgres":  # the backstop, for anything a route would let by
            sid = store.open_session(None, None).id
            with pytest.raises(BadRequest):
                store.add_turn(sid, "t", "q\x00", "a", True, [], {})
