"""Learners: the id and secret the server issues, the profile, progress through the key
points, spaced review (FSRS), export and erasure, each only to the holder of the
learner's secret, through the real app, on SQLite and on Postgres (fake engines: nothing
here needs a model's output, and the bundled lessons are drafted without narration)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.core import protocol as p
from server.core.config import Settings
from server.core.errors import NotFound
from server.lessons import Lessons, records
from server.lessons.quiz import QuizQuestion
from server.storage.library import Library
from server.storage.store import LearnerGrant, Store
from server.teach import length_scale, record_asked, record_heard, record_quiz
from server.teach.learners import profile
from server.teach.points import key_points
from server.teach.progress import due_review
from server.web.app import create_app
from tests.fakes import fake_engines

TOKEN = {"Authorization": "Bearer s3cret"}
ROUTES = [
    ("GET", ""),
    ("PUT", ""),
    ("GET", "/progress"),
    ("GET", "/review"),
    ("GET", "/export"),
    ("GET", "/export?format=md"),
    ("DELETE", ""),
]


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


def secret(grant: LearnerGrant) -> dict[str, str]:
    """The header a learner's routes take."""
    assert grant.secret
    return {"X-Learner-Secret": grant.secret}


def new_learner(client: TestClient) -> tuple[str, dict[str, str]]:
    """A learner made as the browser's is, by `hello {new_learner}`: its id and header."""
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "new_learner": True})
        ready = receive_until(ws, "ready")[-1]
    assert p.Ready(**ready).learner_id == ready["learner_id"]
    return ready["learner_id"], {"X-Learner-Secret": ready["learner_secret"]}


def test_the_server_issues_learner_ids_and_secrets_at_hello(client: TestClient) -> None:
    amy, mine = new_learner(client)
    assert re.fullmatch(p.LEARNER_ID, amy) and len(amy) == 22  # 16 random bytes
    assert re.fullmatch(p.LEARNER_SECRET, mine["X-Learner-Secret"])  # 32 random bytes
    stored = store_of(client)._rows("SELECT secret_hash FROM learners WHERE id = ?", amy)
    assert stored[0][0] and mine["X-Learner-Secret"] not in stored[0][0]  # only its hash
    # Again with both: the same learner, no secret handed over again.
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(
            {"type": "hello", "learner_id": amy, "learner_secret": mine["X-Learner-Secret"]}
        )
        ready = receive_until(ws, "ready")[-1]
    assert ready["learner_id"] == amy and ready["learner_secret"] is None
    assert ready["notice"] is None
    # Someone else's id without its secret (or a made-up one): not that learner. With
    # new_learner, a learner of one's own; without, an anonymous session.
    made_up = "Q" * 22
    for hello, becomes in (
        ({"learner_id": amy}, None),
        ({"learner_id": amy, "learner_secret": "x" * 43}, None),
        ({"learner_id": made_up}, None),
        ({"learner_id": amy, "new_learner": True}, "new"),
    ):
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello", **hello})
            ready = receive_until(ws, "ready")[-1]
        if becomes is None:
            assert ready["learner_id"] is None and ready["learner_secret"] is None
        else:
            assert ready["learner_id"] not in (None, amy) and ready["learner_secret"]
        assert "not recognised" in ready["notice"]
    assert profile(store_of(client), made_up) is None  # never made as a client names it


def test_every_learner_route_takes_only_its_learners_secret(client: TestClient) -> None:
    """Without the secret, with another learner's, or for an unknown learner: the same
    404, so which ids exist cannot be told; with the right one, allowed. Ids not of the
    server's shape (one character, made up) are refused as they are."""
    store = store_of(client)
    amy, ben = store.new_learner(), store.new_learner()
    unknown = "Z" * 22
    for method, tail in ROUTES:
        if method == "DELETE":
            continue
        kwargs = {"json": {"speed": 1.0}} if method == "PUT" else {}
        refusals = [
            client.request(method, f"/api/learners/{amy.id}{tail}", **kwargs),
            client.request(method, f"/api/learners/{amy.id}{tail}", headers=secret(ben), **kwargs),
            client.request(
                method,
                f"/api/learners/{amy.id}{tail}",
                headers={"X-Learner-Secret": ""},
                **kwargs,
            ),
        ]
        stranger = client.request(
            method, f"/api/learners/{unknown}{tail}", headers=secret(ben), **kwargs
        )
        for refused in refusals:
            assert refused.status_code == 404, (method, tail, refused.text)
            mine = refused.json()["error"]
            theirs = stranger.json()["error"]
            assert stranger.status_code == 404
            assert mine == {**theirs, "message": theirs["message"].replace(unknown, amy.id)}
        allowed = client.request(
            method, f"/api/learners/{amy.id}{tail}", headers=secret(amy), **kwargs
        )
        assert allowed.status_code == 200, (method, tail, allowed.text)
        for short in ("a", "-", "a.b", "x" * 65, "k3-x_Y", "spa%20ce"):
            refused = client.request(
                method, f"/api/learners/{short}{tail}", headers=secret(amy), **kwargs
            )
            assert refused.status_code == 422, (short, refused.text)
            assert refused.json()["error"]["code"] == "bad_request"
    for headers in ({}, secret(ben)):
        assert client.delete(f"/api/learners/{amy.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/learners/{amy.id}", headers=secret(amy)).status_code == 204
    assert client.get(f"/api/learners/{amy.id}", headers=secret(amy)).status_code == 404
    assert profile(store, ben.id) is not None


def test_ask_and_transcripts_take_the_learners_secret(client: TestClient) -> None:
    """`/api/ask` with a learner_id needs its secret (else the same 404, nothing written);
    a session's transcript needs the session's secret or its learner's."""
    store = store_of(client)
    amy, ben = store.new_learner(), store.new_learner()
    ask = {"question": "What is Avocado?", "learner_id": amy.id}
    sessions_before = store._rows("SELECT count(*) FROM sessions")[0][0]
    for headers in ({}, secret(ben), {"X-Learner-Secret": "nope"}):
        refused = client.post("/api/ask", json=ask, headers=headers)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert store._rows("SELECT count(*) FROM sessions")[0][0] == sessions_before
    for short in ("a", "-"):
        refused = client.post("/api/ask", json={**ask, "learner_id": short}, headers=secret(amy))
        assert refused.status_code == 422
    reply = client.post("/api/ask", json=ask, headers=secret(amy)).json()
    sid = reply["session_id"]
    url = f"/api/sessions/{sid}"
    for headers in (
        {},
        secret(ben),
        {"X-Session-Secret": "guess"},
        {"X-Session-Secret": reply["session_secret"][:-1]},
    ):
        refused = client.get(url, headers=headers)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    unknown = client.get(f"/api/sessions/{'0' * 32}", headers=secret(amy)).json()
    assert unknown["error"]["message"] == f"no session {'0' * 32}"
    assert client.get(url).json()["error"]["message"] == f"no session {sid}"
    for headers in (secret(amy), {"X-Session-Secret": reply["session_secret"]}):
        turns = client.get(url, headers=headers).json()["turns"]
        assert [t["question"] for t in turns] == ["What is Avocado?"]
    assert client.get(url, headers=secret(amy)).headers["cache-control"] == "no-store"
    with pytest.raises(NotFound):  # (the store itself, for an unknown one)
        store.turns("nobody")


def test_profile_is_changed_read_back_and_checked(client: TestClient) -> None:
    store = store_of(client)
    amy = store.new_learner()
    url, mine = f"/api/learners/{amy.id}", secret(amy)
    made = client.put(url, json={"display_name": "  Amy \n B ", "speed": 0.8}, headers=mine)
    assert made.status_code == 200, made.text
    assert made.json()["display_name"] == "Amy B" and made.json()["speed"] == 0.8
    kept = client.put(url, json={"speed": 1.25}, headers=mine).json()
    assert kept["display_name"] == "Amy B" and kept["speed"] == 1.25  # the name stays
    assert client.get(url, headers=mine).json() == kept
    assert length_scale(store, amy.id) == 0.8  # faster speech: shorter sounds
    assert length_scale(store, None) == length_scale(store, "nobody") == 1
    for bad in ({"speed": 5}, {"speed": 0.1}, {"display_name": "x" * 81}, {"admin": True}):
        refused = client.put(url, json=bad, headers=mine)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "bad_request"
    assert client.get(url, headers={"Authorization": "", **mine}).status_code == 401


def test_hello_carries_a_checked_learner_id_and_secret() -> None:
    ours = "k3-x_Y" * 3 + "abcd"  # 22 characters: the server's shape
    legacy = "0f8fad5b-d9cb-469f-a165-70867728950e"  # a browser's own, before secrets
    for learner_id in (ours, legacy):
        hello = p.parse_client(f'{{"type": "hello", "learner_id": "{learner_id}"}}')
        assert isinstance(hello, p.Hello) and hello.learner_id == learner_id
    for bad in ('"a"', '"-"', '"a b"', '""', f'"{"x" * 65}"', f'"{"x" * 23}"'):
        with pytest.raises(p.ProtocolError):
            p.parse_client(f'{{"type": "hello", "learner_id": {bad}}}')
    for bad in ('"short"', f'"{"x" * 44}"', f'"{"x" * 42}!"'):
        with pytest.raises(p.ProtocolError):
            p.parse_client(f'{{"type": "hello", "learner_id": "{ours}", "learner_secret": {bad}}}')


def test_a_missed_item_comes_due_before_one_answered_right(client: TestClient) -> None:
    store = store_of(client)
    grant = store.new_learner()
    ben = grant.id
    store.open_session(None, None, ben)
    missed, right = quiz(store, 1)[:2]
    start = time.time() - 300  # answered five minutes ago
    missed_due = record_quiz(store, ben, 1, missed, "not_yet", at=start)
    right_due = record_quiz(store, ben, 1, right, "right", at=start)
    assert missed_due is not None and right_due is not None
    assert start < missed_due < right_due

    review = client.get(f"/api/learners/{ben}/review", headers=secret(grant)).json()
    assert [(i["lesson_id"], i["question"]) for i in review["items"]] == [(1, missed.index)]
    assert (
        review["items"][0]["text"] == missed.question and review["items"][0]["due"] <= time.time()
    )
    assert review["upcoming"] == 1 and review["next_due"] == right_due
    later = due_review(store, ben, right_due + 1)
    assert [i["question"] for i in later["items"]] == [missed.index, right.index]

    # Partly right sits between the two.
    third = quiz(store, 1)[2]
    partly_due = record_quiz(store, ben, 1, third, "partly", at=start)
    assert partly_due is not None and missed_due < partly_due < right_due


def test_progress_after_a_lesson_and_a_quiz(client: TestClient) -> None:
    store = store_of(client)
    grant = store.new_learner()
    cat = grant.id
    store.open_session(None, None, cat)
    fresh = client.get(f"/api/learners/{cat}/progress", headers=secret(grant)).json()
    assert fresh["next"] == {"kind": "lesson", "lesson_id": 1, "segment": 1}
    assert {pt["state"] for a in fresh["articles"] for pt in a["points"]} == {"new"}

    script = records.load(store, 1).script
    for segment in script.segments:
        record_heard(store, cat, 1, segment.index)
    question = script.quiz[0]
    at = time.time() - 3600
    record_quiz(store, cat, 1, question, "right", at=at)
    record_quiz(store, cat, 1, question, "right", at=at + 700)  # after its 10-minute step
    asked = next(pt for pt in key_points(store)[2] if pt.segment is not None)
    source = records.load(store, 2).script.segments[asked.segment or 0].sources[0]
    assert record_asked(store, cat, [source]) == 1

    body = client.get(f"/api/learners/{cat}/progress", headers=secret(grant)).json()
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
    assert record_heard(store, cat, 99, 0) == record_heard(store, cat, 1, 99) == 0
    assert record_quiz(store, None, 1, question, "right") is None


def populate(client: TestClient, grant: LearnerGrant) -> tuple[str, QuizQuestion]:
    """A learner with a session, a turn with sources, a quiz answer, a card and points."""
    store = store_of(client)
    learner = grant.id
    named = client.put(
        f"/api/learners/{learner}", json={"display_name": "Dee"}, headers=secret(grant)
    )
    assert named.status_code == 200, named.text
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
    grant = store_of(client).new_learner()
    dee, mine = grant.id, secret(grant)
    session, question = populate(client, grant)
    quote = store_of(client).article(1).paragraphs[4]
    data = client.get(f"/api/learners/{dee}/export", headers=mine).json()
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

    md = client.get(f"/api/learners/{dee}/export?format=md", headers=mine)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.headers["cache-control"] == "no-store"
    text = md.text
    assert "# Learning record: Dee" in text
    assert "**Q:** What did Llama give everyone?" in text and "**A:** A third option." in text
    assert f"> {quote}" in text  # the source, quoted
    assert question.answer in text
    by_accept = client.get(
        f"/api/learners/{dee}/export", headers={"Accept": "text/markdown", **mine}
    )
    assert by_accept.text == text
    assert client.get(f"/api/learners/{'N' * 22}/export", headers=mine).status_code == 404


def test_delete_leaves_nothing_behind(client: TestClient) -> None:
    """Checked in the database itself: no row of any table names the learner or its sessions
    (ids made unique enough that no article text contains them)."""
    store = store_of(client)
    eve, fay = store.new_learner(), store.new_learner()
    EVE, FAY, mine = eve.id, fay.id, secret(eve)
    session, _ = populate(client, eve)
    # An /api/ask turn of the learner, through the app.
    asked = client.post(
        "/api/ask", json={"question": "What is Avocado?", "learner_id": EVE}, headers=mine
    )
    assert asked.status_code == 200, asked.text
    exported = client.get(f"/api/learners/{EVE}/export", headers=mine).json()["sessions"]
    assert asked.json()["session_id"] in [s["session_id"] for s in exported]
    other = populate(client, fay)[0]  # someone else's record stays
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
    assert client.delete(f"/api/learners/{EVE}", headers=mine).status_code == 204
    assert rows_mentioning(EVE, *sessions) == []
    assert client.get(f"/api/learners/{EVE}", headers=mine).status_code == 404
    assert client.delete(f"/api/learners/{EVE}", headers=mine).status_code == 404
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
        gus, hal = store.new_learner().id, store.new_learner().id
        # The old session is continued and claimed by the first learner to continue it.
        grant = store.open_session("old", "secret", gus)
        assert grant.resumed and grant.id == "old"
        assert store._rows("SELECT learner_id FROM sessions WHERE id = 'old'")[0][0] == gus
        # ... and then no other learner continues it.
        assert not store.open_session("old", "secret", hal).resumed
        assert store.open_session("old", "secret").resumed  # no learner named: as before
        assert {r[0] for r in store._rows("SELECT id FROM learners")} == {gus, hal}
    finally:
        store.close()


def test_a_learner_from_before_secrets_gets_one_at_its_browsers_next_hello(
    tmp_path: Path,
) -> None:
    """A database whose learners have no secret: the column is added, and the first
    hello that names such a learner (its browser kept the id it made) is handed the
    secret; from then on the id alone opens nothing. Until then no route answers."""
    path = tmp_path / "old.db"
    legacy = "0f8fad5b-d9cb-469f-a165-70867728950e"  # crypto.randomUUID(), as browsers made
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE learners (id TEXT PRIMARY KEY, display_name TEXT,"
        " speed REAL NOT NULL DEFAULT 1.0, created_at REAL NOT NULL);"
        f"INSERT INTO learners (id, display_name, created_at) VALUES ('{legacy}', 'Old', 1.0);"
    )
    db.close()
    config = Settings(data_dir=tmp_path, build_lessons=False, allowed_hosts=["testserver"])
    config.data_dir.mkdir(exist_ok=True)
    path.rename(config.db_path)
    with TestClient(create_app(config, fake_engines())) as client:
        assert client.get(f"/api/learners/{legacy}").status_code == 404  # no secret yet
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello", "learner_id": legacy, "new_learner": True})
            ready = receive_until(ws, "ready")[-1]
        assert ready["learner_id"] == legacy and ready["learner_secret"]
        mine = {"X-Learner-Secret": ready["learner_secret"]}
        assert client.get(f"/api/learners/{legacy}", headers=mine).json()["display_name"] == "Old"
        with client.websocket_connect("/ws/chat") as ws:  # the id alone, again: not any more
            ws.send_json({"type": "hello", "learner_id": legacy, "new_learner": True})
            again = receive_until(ws, "ready")[-1]
        assert again["learner_id"] != legacy and again["learner_secret"]


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
    gus, mine = new_learner(client)
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(
            {"type": "hello", "learner_id": gus, "learner_secret": mine["X-Learner-Secret"]}
        )
        ready = receive_until(ws, "ready")[-1]
        assert ready["learner_id"] == gus
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
    assert owner[0][0] == gus
    met = store._rows(
        "SELECT COUNT(heard_at), COUNT(asked_at), COUNT(quizzed_at) FROM learner_points "
        "WHERE learner_id = ?",
        gus,
    )
    assert all(n >= 1 for n in met[0])  # heard in the lesson, asked, quizzed
    progress = client.get(f"/api/learners/{gus}/progress", headers=mine).json()
    states = {pt["state"] for a in progress["articles"] for pt in a["points"]}
    assert {"heard", "quizzed"} <= states
    # Missed: due again within minutes (FSRS's first learning step), and listed then.
    soon = due_review(store, gus, time.time() + 120)
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
        ws.send_json({"type": "hello", "new_learner": True})
        ready = receive_until(ws, "ready")[-1]
        hal, mine = ready["learner_id"], {"X-Learner-Secret": ready["learner_secret"]}
        done, before = ask(ws, "What is Avocado?")
        assert done["grounded"] and 2 <= len(done["suggestions"]) <= 3
        ack, _ = ask(ws, "slower please")
        assert ack["text"] == "Okay, I'll speak more slowly."
        again, after = ask(ws, "say that again")
        assert again["text"] == done["text"]
        # At the slowest pace, "slower" says so instead; "faster" still goes faster.
        slowest = client.put(f"/api/learners/{hal}", json={"speed": 0.5}, headers=mine)
        assert slowest.status_code == 200
        ack, _ = ask(ws, "slower please")
        assert ack["text"] == "This is as slowly as I can speak."
        assert client.get(f"/api/learners/{hal}", headers=mine).json()["speed"] == 0.5
        ack, _ = ask(ws, "faster")
        assert ack["text"] == "Okay, I'll speak faster."
        client.put(f"/api/learners/{hal}", json={"speed": 2.0}, headers=mine)
        ack, _ = ask(ws, "faster")
        assert ack["text"] == "This is as fast as I can speak."
    assert after > before * 1.1  # the same words, spoken more slowly
    assert client.get(f"/api/learners/{hal}", headers=mine).json()["speed"] == 2.0
