"""Learners: the profile, progress through the key points, spaced review (FSRS), export
and erasure, through the real app, on SQLite and on Postgres (fake engines: nothing here
needs a model's output, and the bundled lessons are drafted without narration)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server import protocol as p
from server.app import create_app
from server.config import Settings
from server.lessons import Lessons, records
from server.lessons.quiz import QuizQuestion
from server.library import Library
from server.store import Store
from server.teach import length_scale, record_asked, record_heard, record_quiz
from server.teach.learners import profile
from server.teach.points import key_points
from server.teach.progress import due_review
from tests.fakes import fake_engines

TOKEN = {"Authorization": "Bearer s3cret"}
EVE, FAY = "eve-5b1f0c9a2d", "fay-77e3a0c4b1"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app over a data folder holding the bundled articles' lessons (scripts only),
    with a token: the learner routes sit behind it like every /api route. Once on each
    database: SQLite in the data folder, and Postgres (tests/postgres.py)."""
    url = request.getfixturevalue("postgres").fresh_url() if request.param == "postgres" else None
    config = Settings(
        data_dir=tmp_path_factory.mktemp("learners"),
        build_lessons=False,
        allowed_hosts=["testserver"],
        api_token="s3cret",
        database_url=url,
    )
    store = Store(config.database)
    Library(store).seed(config.corpus_dir)
    asyncio.run(Lessons(store, config.cache_dir, tts=fake_engines().tts, polite=False).sync(False))
    store.close()
    with TestClient(create_app(config, fake_engines()), headers=TOKEN) as c:
        yield c


def store_of(client: TestClient) -> Store:
    return client.app.state.services.store  # type: ignore[attr-defined]


def quiz(store: Store, lesson_id: int) -> list[QuizQuestion]:
    return records.load(store, lesson_id).script.quiz


def test_profile_is_made_by_put_read_back_and_checked(client: TestClient) -> None:
    assert client.get("/api/learners/amy").status_code == 404
    assert client.get("/api/learners/amy").json()["error"]["code"] == "not_found"
    made = client.put("/api/learners/amy", json={"display_name": "  Amy \n B ", "speed": 0.8})
    assert made.status_code == 200, made.text
    assert made.json()["display_name"] == "Amy B" and made.json()["speed"] == 0.8
    kept = client.put("/api/learners/amy", json={"speed": 1.25}).json()
    assert kept["display_name"] == "Amy B" and kept["speed"] == 1.25  # the name stays
    assert client.get("/api/learners/amy").json() == kept
    assert length_scale(store_of(client), "amy") == 0.8  # faster speech: shorter sounds
    assert length_scale(store_of(client), None) == length_scale(store_of(client), "nobody") == 1
    for bad in ({"speed": 5}, {"speed": 0.1}, {"display_name": "x" * 81}, {"admin": True}):
        refused = client.put("/api/learners/amy", json=bad)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "bad_request"
    for bad_id in ("a.b", "x" * 65, "spa%20ce"):
        refused = client.get(f"/api/learners/{bad_id}/progress")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "bad_request"
    assert client.get("/api/learners/amy", headers={"Authorization": ""}).status_code == 401


def test_hello_carries_a_checked_learner_id() -> None:
    hello = p.parse_client('{"type": "hello", "learner_id": "k3-x_Y"}')
    assert isinstance(hello, p.Hello) and hello.learner_id == "k3-x_Y"
    for bad in ('"a b"', '""', f'"{"x" * 65}"'):
        with pytest.raises(p.ProtocolError):
            p.parse_client(f'{{"type": "hello", "learner_id": {bad}}}')


def test_a_missed_item_comes_due_before_one_answered_right(client: TestClient) -> None:
    store = store_of(client)
    store.open_session(None, None, "ben")
    missed, right = quiz(store, 1)[:2]
    start = time.time() - 300  # answered five minutes ago
    missed_due = record_quiz(store, "ben", 1, missed, "not_yet", at=start)
    right_due = record_quiz(store, "ben", 1, right, "right", at=start)
    assert missed_due is not None and right_due is not None
    assert start < missed_due < right_due

    review = client.get("/api/learners/ben/review").json()
    assert [(i["lesson_id"], i["question"]) for i in review["items"]] == [(1, missed.index)]
    assert (
        review["items"][0]["text"] == missed.question and review["items"][0]["due"] <= time.time()
    )
    assert review["upcoming"] == 1 and review["next_due"] == right_due
    later = due_review(store, "ben", right_due + 1)
    assert [i["question"] for i in later["items"]] == [missed.index, right.index]

    # Partly right sits between the two.
    third = quiz(store, 1)[2]
    partly_due = record_quiz(store, "ben", 1, third, "partly", at=start)
    assert partly_due is not None and missed_due < partly_due < right_due


def test_progress_after_a_lesson_and_a_quiz(client: TestClient) -> None:
    store = store_of(client)
    store.open_session(None, None, "cat")
    fresh = client.get("/api/learners/cat/progress").json()
    assert fresh["next"] == {"kind": "lesson", "lesson_id": 1, "segment": 1}
    assert {pt["state"] for a in fresh["articles"] for pt in a["points"]} == {"new"}

    script = records.load(store, 1).script
    for segment in script.segments:
        record_heard(store, "cat", 1, segment.index)
    question = script.quiz[0]
    at = time.time() - 3600
    record_quiz(store, "cat", 1, question, "right", at=at)
    record_quiz(store, "cat", 1, question, "right", at=at + 700)  # after its 10-minute step
    asked = next(pt for pt in key_points(store)[2] if pt.segment is not None)
    source = records.load(store, 2).script.segments[asked.segment or 0].sources[0]
    assert record_asked(store, "cat", [source]) == 1

    body = client.get("/api/learners/cat/progress").json()
    first, second = body["articles"]
    states = {pt["text"]: pt for pt in first["points"]}
    for segment in script.segments:
        if segment.kind == "point":
            assert states[segment.sources[0].quote]["state"] == "heard"
    tested = states[question.source.quote]
    assert tested["state"] == "quizzed" and tested["mastery"] == "mastered"
    assert tested["due"] > time.time() and 0 < tested["recall"] <= 1
    assert first["counts"]["mastered"] == 1
    # Left new: only sentences that a quiz tests and no segment teaches.
    assert all(pt["segment"] is None for pt in first["points"] if pt["state"] == "new")
    by_text = {pt["text"]: pt for pt in second["points"]}
    assert by_text[asked.text]["state"] == "asked" and by_text[asked.text]["mastery"] == "none"
    assert second["counts"]["asked"] == 1 and second["counts"]["new"] == len(second["points"]) - 1
    assert body["next"]["kind"] == "lesson" and body["next"]["lesson_id"] == 2

    # Nothing recorded for an anonymous session, a made-up lesson or segment.
    assert record_heard(store, None, 1, 0) == 0
    assert record_heard(store, "cat", 99, 0) == record_heard(store, "cat", 1, 99) == 0
    assert record_quiz(store, None, 1, question, "right") is None


def populate(client: TestClient, learner: str) -> tuple[str, QuizQuestion]:
    """A learner with a session, a turn with sources, a quiz answer, a card and points."""
    store = store_of(client)
    client.put(f"/api/learners/{learner}", json={"display_name": "Dee"})
    session = store.open_session(None, None, learner).id
    article = store.article(1)
    source = {
        "article_id": 1,
        "title": article.title,
        "quote": article.paragraphs[4],
        "paragraph": 4,
    }
    store.add_turn(
        session, "t1", "What did Llama give everyone?", "A third option.", True, [source], {}
    )
    question = quiz(store, 1)[0]
    records.record_answer(store, session, 1, question.index, "a second one", "not_yet")
    record_quiz(store, learner, 1, question, "not_yet")
    record_heard(store, learner, 1, 1)
    return session, question


def test_export_holds_turns_with_their_sources(client: TestClient) -> None:
    session, question = populate(client, "dee")
    quote = store_of(client).article(1).paragraphs[4]
    data = client.get("/api/learners/dee/export").json()
    assert data["learner"]["display_name"] == "Dee"
    [exported] = data["sessions"]
    assert exported["session_id"] == session
    [turn] = exported["turns"]
    assert turn["question"] == "What did Llama give everyone?"
    assert turn["sources"][0]["quote"] == quote and turn["sources"][0]["title"]
    assert exported["quiz_answers"][0]["answer"] == "a second one"
    [card] = data["review_cards"]
    assert card["text"] == question.question and card["last_grade"] == "not_yet"
    assert card["card"]["state"] == 1  # fsrs: learning
    assert data["points"] and data["progress"][0]["article_id"] == 1

    md = client.get("/api/learners/dee/export?format=md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.headers["cache-control"] == "no-store"
    text = md.text
    assert "# Learning record: Dee" in text
    assert "**Q:** What did Llama give everyone?" in text and "**A:** A third option." in text
    assert f"> {quote}" in text  # the source, quoted
    assert question.answer in text
    by_accept = client.get("/api/learners/dee/export", headers={"Accept": "text/markdown"})
    assert by_accept.text == text
    assert client.get("/api/learners/nobody/export").status_code == 404


def test_delete_leaves_nothing_behind(client: TestClient) -> None:
    """Checked in the database itself: no row of any table names the learner or its sessions
    (ids made unique enough that no article text contains them)."""
    session, _ = populate(client, EVE)
    store = store_of(client)
    # An /api/ask turn of the learner, through the app.
    asked = client.post("/api/ask", json={"question": "What is Avocado?", "learner_id": EVE})
    assert asked.status_code == 200, asked.text
    exported = client.get(f"/api/learners/{EVE}/export").json()["sessions"]
    assert asked.json()["session_id"] in [s["session_id"] for s in exported]
    other = populate(client, FAY)[0]  # someone else's record stays
    tables = [
        r[0]
        for r in store._rows(
            "SELECT name FROM sqlite_master WHERE type='table'"
            if store.kind == "sqlite"
            else "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema()"
        )
    ]

    def rows_mentioning(*needles: str) -> list[tuple[str, tuple[object, ...]]]:
        return [
            (table, tuple(row))
            for table in tables
            for row in store._rows(f'SELECT * FROM "{table}"')
            if any(n in str(value) for value in row for n in needles)
        ]

    sessions = [session, asked.json()["session_id"]]
    assert {t for t, _ in rows_mentioning(EVE, *sessions)} >= {
        "learners",
        "sessions",
        "turns",
        "quiz_answers",
        "review_cards",
        "learner_points",
    }
    assert client.delete(f"/api/learners/{EVE}").status_code == 204
    assert rows_mentioning(EVE, *sessions) == []
    assert client.get(f"/api/learners/{EVE}").status_code == 404
    assert client.delete(f"/api/learners/{EVE}").status_code == 404
    assert profile(store, FAY) is not None and rows_mentioning(other)
    # An erased learner is not brought back by a late report from an open socket.
    assert record_heard(store, EVE, 1, 1) == 0
    assert record_quiz(store, EVE, 1, quiz(store, 1)[0], "right") is None
    assert rows_mentioning(EVE) == []


def test_an_old_sessions_table_gains_learner_id(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, created_at REAL NOT NULL,"
        " secret_hash TEXT);"
        "INSERT INTO sessions VALUES ('old', 1.0, "
        "'2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b');"  # 'secret'
    )
    db.close()
    store = Store(path)
    try:
        columns = {r["name"] for r in store._rows("PRAGMA table_info(sessions)")}
        assert "learner_id" in columns
        # The old session is continued and claimed by the first learner to continue it.
        grant = store.open_session("old", "secret", "gus")
        assert grant.resumed and grant.id == "old"
        assert store._rows("SELECT learner_id FROM sessions WHERE id = 'old'")[0][0] == "gus"
        # ... and then no other learner continues it.
        assert not store.open_session("old", "secret", "hal").resumed
        assert store.open_session("old", "secret").resumed  # no learner named: as before
        assert {r[0] for r in store._rows("SELECT id FROM learners")} == {"gus", "hal"}
    finally:
        store.close()


def receive_until(ws, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    seen = []
    while True:
        event = ws.receive_json()
        seen.append(event)
        if event["type"] == kind:
            return seen


def test_a_socket_session_counts_to_its_learner(client: TestClient) -> None:
    """hello {learner_id} on /ws/chat: the lesson heard, the question asked and the quiz
    answered there all show in the learner's progress and review."""
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "learner_id": "gus"})
        ready = receive_until(ws, "ready")[-1]
        ws.send_json({"type": "lesson.context", "lesson_id": 1, "segment": 1})
        ws.send_json({"type": "text", "text": "What is Avocado?"})
        done = receive_until(ws, "answer.done")[-1]
        assert done["grounded"] and done["sources"]
        ws.send_json({"type": "quiz.ask", "lesson_id": 1, "question": 0})
        receive_until(ws, "quiz.question")
        ws.send_json({"type": "text", "text": "I have no idea"})
        result = receive_until(ws, "quiz.result")[-1]
        assert result["grade"] == "not_yet"
    store = store_of(client)
    owner = store._rows("SELECT learner_id FROM sessions WHERE id = ?", ready["session_id"])
    assert owner[0][0] == "gus"
    met = store._rows(
        "SELECT COUNT(heard_at), COUNT(asked_at), COUNT(quizzed_at) FROM learner_points "
        "WHERE learner_id = 'gus'"
    )
    assert all(n >= 1 for n in met[0])  # heard in the lesson, asked, quizzed
    progress = client.get("/api/learners/gus/progress").json()
    states = {pt["state"] for a in progress["articles"] for pt in a["points"]}
    assert {"heard", "quizzed"} <= states
    # Missed: due again within minutes (FSRS's first learning step), and listed then.
    soon = due_review(store, "gus", time.time() + 120)
    assert [(i["lesson_id"], i["question"]) for i in soon["items"]] == [(1, 0)]


def test_slower_slows_this_learner_down_and_answers_carry_suggestions(
    client: TestClient,
) -> None:
    """Saying "slower" on a socket: the acknowledgement and what follows are spoken at the new
    pace, and the pace is kept as the learner's speed; answers carry follow-ups."""

    def ask(ws, text: str) -> tuple[dict, float]:  # type: ignore[no-untyped-def]
        ws.send_json({"type": "text", "text": text, "speak": True})
        events = []
        while not events or events[-1]["type"] != "turn.metrics":
            message = ws.receive()
            if message.get("text"):
                events.append(__import__("json").loads(message["text"]))
        done = next(e for e in events if e["type"] == "answer.done")
        return done, events[-1]["reply_audio_seconds"]

    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "learner_id": "hal"})
        receive_until(ws, "ready")
        done, before = ask(ws, "What is Avocado?")
        assert done["grounded"] and 2 <= len(done["suggestions"]) <= 3
        ack, _ = ask(ws, "slower please")
        assert "slowly" in ack["text"].lower()
        again, after = ask(ws, "say that again")
        assert again["text"] == done["text"]
    assert after > before * 1.1  # the same words, spoken more slowly
    assert client.get("/api/learners/hal").json()["speed"] < 1
