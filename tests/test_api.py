"""HTTP API and the chat websocket through the real app and the real models."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.engines import Engines
from tests.fakes import fake_engines

ALPACAS = (
    b"Alpaca farming in the Andes\n\nAlpacas are shorn once a year, in spring, for "
    b"their soft fleece. The fleece is spun into yarn by farmers in Peru and sold at the "
    b"market in Cusco every Sunday.\n"
)


@pytest.fixture
def client(settings: Settings, engines: Engines) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engines)) as c:
        yield c


def test_upload_ask_delete_round_trip(client: TestClient) -> None:
    created = client.post("/api/articles", files={"file": ("alpacas.txt", ALPACAS)})
    assert created.status_code == 201, created.text
    article = created.json()
    assert article["title"] == "Alpaca farming in the Andes" and article["created"]
    assert len(client.get("/api/articles").json()) == 3

    reply = client.post("/api/ask", json={"question": "Where is the alpaca fleece sold?"}).json()
    assert reply["grounded"] and ("Cusco" in reply["answer"] or "Peru" in reply["answer"])
    assert reply["sources"][0]["article_id"] == article["id"]
    assert "sold" in reply["sources"][0]["quote"]

    assert client.delete(f"/api/articles/{article['id']}").status_code == 204
    assert len(client.get("/api/articles").json()) == 2
    gone = client.post("/api/ask", json={"question": "Where is the alpaca fleece sold?"}).json()
    assert not gone["grounded"]
    assert client.delete(f"/api/articles/{article['id']}").status_code == 404


@pytest.mark.parametrize(
    "name,data,status,code",
    [
        ("empty.txt", b"", 400, "empty_document"),
        ("slides.pdf", b"%PDF-1.4", 415, "unsupported_type"),
        ("big.txt", b"word " * 500_000, 413, "too_large"),
        ("nav.html", b"<html><body><nav>Home</nav></body></html>", 400, "empty_document"),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(
    client: TestClient, name: str, data: bytes, status: int, code: str
) -> None:
    reply = client.post("/api/articles", files={"file": (name, data)})
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code
    assert len(client.get("/api/articles").json()) == 2
    assert client.get("/healthz").json()["passages"] > 0


def test_ask_keeps_a_session_transcript(client: TestClient) -> None:
    first = client.post("/api/ask", json={"question": "What is Avocado?"}).json()
    sid = first["session_id"]
    second = client.post(
        "/api/ask",
        json={
            "question": "How do I change a flat tire?",
            "session_id": sid,
            "session_secret": first["session_secret"],
        },
    ).json()
    assert second["session_id"] == sid and second["resumed"] and not second["grounded"]
    turns = client.get(f"/api/sessions/{sid}").json()["turns"]
    assert [t["question"] for t in turns] == ["What is Avocado?", "How do I change a flat tire?"]
    assert turns[0]["sources"] and "retrieval" in turns[0]["timings"]
    assert client.get("/api/sessions/nope").status_code == 404


def test_ask_rejects_bad_requests(client: TestClient) -> None:
    assert client.post("/api/ask", json={"question": ""}).status_code == 422
    assert (
        client.post("/api/ask", json={"question": "   "}).json()["error"]["code"]
        == "empty_question"
    )
    assert client.post("/api/ask", content=b"{not json").status_code == 422


def test_chat_socket_streams_deltas_before_done(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["session_id"]
        ws.send_json({"type": "text", "text": "How was Llama 4 received?"})
        events = []
        while not events or events[-1]["type"] != "turn.metrics":
            events.append(ws.receive_json())
        kinds = [e["type"] for e in events]
        assert kinds.index("answer.delta") < kinds.index("answer.done")
        done = next(e for e in events if e["type"] == "answer.done")
        assert done["grounded"] and "lukewarm" in done["text"]
        assert done["sources"] and done["sources"][0]["quote"]
        assert "audio.start" not in kinds  # chat speaks only when asked

        ws.send_json({"type": "text", "text": "What is Avocado?", "speak": True})
        got_audio = 0
        while True:
            message = ws.receive()
            if message.get("bytes"):
                got_audio += len(message["bytes"])
            elif '"turn.metrics"' in message.get("text", ""):
                break
        assert got_audio > 22050  # at least half a second of read-aloud audio

        ws.send_text("{not json")
        assert ws.receive_json() == {
            "type": "error",
            "code": "bad_json",
            "message": "message is not valid JSON",
        }
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == "audio_not_accepted"
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_metrics_endpoint(client: TestClient) -> None:
    client.post("/api/ask", json={"question": "What is Avocado?"})
    text = client.get("/metrics").text
    assert "tutor_turns_total" in text and "tutor_stage_seconds_bucket" in text


@pytest.fixture
def fake_client(tmp_path: Path) -> Iterator[TestClient]:
    """The real app around fakes of our engines (these tests are about ids, not models)."""
    settings = Settings(data_dir=tmp_path, build_lessons=False, allowed_hosts=["testserver"])
    with TestClient(create_app(settings, fake_engines())) as c:
        yield c


HUGE = "99999999999999999999"  # past SQLite's 64-bit integers


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"/api/articles/{HUGE}"),
        ("DELETE", f"/api/articles/{HUGE}"),
        ("GET", f"/api/articles/-{HUGE}"),
        ("GET", "/api/articles/abc"),
        ("DELETE", "/api/articles/1e3"),
        ("GET", f"/api/lessons/{HUGE}"),
        ("GET", "/api/lessons/one"),
        ("GET", f"/api/lessons/{HUGE}/segments/0/audio"),
        ("GET", f"/api/lessons/1/segments/{HUGE}/audio"),
        ("GET", "/api/lessons/1/segments/x/audio"),
    ],
)
def test_ids_that_cannot_exist_are_not_found(
    fake_client: TestClient, method: str, path: str
) -> None:
    reply = fake_client.request(method, path)
    assert reply.status_code == 404, reply.text
    assert reply.json()["error"]["code"] == "not_found"
    assert fake_client.get("/api/articles/1").status_code == 200  # real ids still work


def test_a_session_continues_only_with_its_secret(fake_client: TestClient) -> None:
    """Sessions are not bearer ids: another client's id without its secret (or a made-up
    one) starts a new session and says so; nothing reaches the owner's transcript."""
    ask = "What is Avocado?"
    owner = fake_client.post("/api/ask", json={"question": ask}).json()
    sid, secret = owner["session_id"], owner["session_secret"]
    assert not owner["resumed"] and secret
    for intrusion in ({"session_id": sid}, {"session_id": sid, "session_secret": "guess"}):
        other = fake_client.post("/api/ask", json={"question": "Intruder?", **intrusion}).json()
        assert other["session_id"] != sid and not other["resumed"]
        assert sid in other["notice"]
    made_up = fake_client.post("/api/ask", json={"question": ask, "session_id": "a"}).json()
    assert made_up["session_id"] != "a" and not made_up["resumed"]
    assert fake_client.get("/api/sessions/a").status_code == 404

    with fake_client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "session_id": sid})
        ready = ws.receive_json()
        assert ready["session_id"] != sid and not ready["resumed"] and ready["notice"]
        ws.send_json({"type": "text", "text": "Intruder on the socket?"})
        while ws.receive_json()["type"] != "turn.metrics":
            pass
    with fake_client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "session_id": sid, "session_secret": secret})
        ready = ws.receive_json()
        assert ready["session_id"] == sid and ready["resumed"] and ready["notice"] is None
        ws.send_json({"type": "text", "text": "And its size?"})
        while ws.receive_json()["type"] != "turn.metrics":
            pass
    again = fake_client.post(
        "/api/ask", json={"question": ask, "session_id": sid, "session_secret": secret}
    ).json()
    assert again["session_id"] == sid and again["resumed"]
    turns = fake_client.get(f"/api/sessions/{sid}").json()["turns"]
    assert [t["question"] for t in turns] == [ask, "And its size?", ask]


def test_sessions_from_before_resume_secrets_are_not_continued(tmp_path: Path) -> None:
    import sqlite3

    from server.store import Store

    db = sqlite3.connect(tmp_path / "old.sqlite3")
    db.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, created_at REAL NOT NULL)")
    db.execute("INSERT INTO sessions VALUES ('old', 0)")
    db.commit()
    db.close()
    store = Store(tmp_path / "old.sqlite3")
    grant = store.open_session("old", "anything")
    assert grant.id != "old" and not grant.resumed
    assert store.open_session(grant.id, grant.secret).resumed
    store.close()


def test_an_impossible_lesson_id_is_refused_and_later_questions_still_work(
    fake_client: TestClient,
) -> None:
    with fake_client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"
        ws.send_text('{"type": "lesson.context", "lesson_id": 1e20}')
        assert ws.receive_json()["code"] == "bad_message"
        ws.send_text(f'{{"type": "quiz.ask", "lesson_id": {HUGE}, "question": 0}}')
        assert ws.receive_json()["code"] == "bad_message"
        for _ in range(2):
            ws.send_json({"type": "text", "text": "What is Avocado?"})
            events = [ws.receive_json()]
            while events[-1]["type"] not in ("answer.done", "error"):
                events.append(ws.receive_json())
            assert events[-1]["type"] == "answer.done", events[-1]
            while ws.receive_json()["type"] != "turn.metrics":
                pass
