"""HTTP API and the chat websocket through the real app and the real models."""

import http.client
import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.engines import Engines
from server.web.app import create_app
from tests.fakes import fake_engines
from tests.test_transport import WAIT, served
from tests.uploads import add_article, wait_for_job

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
    job = add_article(client, "alpacas.txt", ALPACAS)
    assert job["state"] == "ready" and job["error"] is None, job
    article = job["article"]
    assert article["title"] == "Alpaca farming in the Andes" and job["created"]
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


def test_an_upload_is_a_job_polled_until_ready(client: TestClient) -> None:
    """202 at once with a pending job; polled, it ends ready with the article, its
    progress at 1; the same text again is a job that finds it there (`created: false`)."""
    reply = client.post("/api/articles", files={"file": ("alpacas.txt", ALPACAS)})
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert reply.headers["location"] == f"/api/articles/jobs/{job['job']}"
    assert job["state"] in ("pending", "indexing", "ready")
    assert 0 <= job["progress"] <= 1 and job["error"] is None and job["filename"] == "alpacas.txt"
    done = wait_for_job(client, job)
    assert done["state"] == "ready" and done["progress"] == 1 and done["step"] == "indexed"
    assert done["created"] is True and done["error"] is None
    assert done["article"]["title"] == "Alpaca farming in the Andes"
    listed = {a["id"]: a for a in client.get("/api/articles").json()}
    assert listed[done["article"]["id"]] == done["article"]
    assert client.get(f"/api/articles/jobs/{job['job']}").json() == done  # still there

    again = add_article(client, "alpacas-again.txt", ALPACAS)
    assert again["state"] == "ready" and again["created"] is False
    assert again["article"]["id"] == done["article"]["id"]
    assert len(client.get("/api/articles").json()) == 3


@pytest.mark.parametrize(
    "name,data,status,code",
    [
        ("empty.txt", b"", 400, "empty_document"),
        ("blank.md", b" \n\n \t\n", 400, "empty_document"),
        ("slides.pdf", b"%PDF-1.4", 415, "unsupported_type"),
        ("big.txt", b"word " * 500_000, 413, "too_large"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 400, "bad_document"),
    ],
)
def test_bad_uploads_are_refused_at_once_and_change_nothing(
    client: TestClient, name: str, data: bytes, status: int, code: str
) -> None:
    reply = client.post("/api/articles", files={"file": (name, data)})
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code
    assert len(client.get("/api/articles").json()) == 2
    assert client.get("/healthz").json()["passages"] > 0


def test_an_upload_without_article_text_is_a_failed_job(client: TestClient) -> None:
    """Text, but no article in it (found by reading it): the job fails with a typed
    error, and the library is unchanged."""
    job = add_article(client, "nav.html", b"<html><body><nav>Home</nav></body></html>")
    assert job["state"] == "failed" and job["article"] is None, job
    assert job["error"]["code"] == "empty_document" and "words" in job["error"]["message"]
    assert len(client.get("/api/articles").json()) == 2
    assert client.get("/healthz").json()["passages"] > 0


def test_an_unknown_job_is_not_found(client: TestClient) -> None:
    for job_id in ("nope", "x" * 300):
        reply = client.get(f"/api/articles/jobs/{job_id}")
        assert reply.status_code == 404
        assert reply.json()["error"]["code"] == "not_found"


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
    transcript = f"/api/sessions/{sid}"
    turns = client.get(transcript, headers={"X-Session-Secret": first["session_secret"]})
    turns = turns.json()["turns"]
    assert [t["question"] for t in turns] == ["What is Avocado?", "How do I change a flat tire?"]
    assert turns[0]["sources"] and "retrieval" in turns[0]["timings"]
    assert client.get("/api/sessions/nope").status_code == 404
    assert client.get(transcript).status_code == 404  # not without the session's secret


def test_ask_explains_itself_only_when_asked(client: TestClient) -> None:
    plain = client.post("/api/ask", json={"question": "How was Llama 4 received?"}).json()
    assert "trace" not in plain
    reply = client.post(
        "/api/ask", json={"question": "How was Llama 4 received?", "explain": True}
    ).json()
    assert reply["grounded"] and reply["sources"]
    trace = reply["trace"]
    assert trace["asked"] == "How was Llama 4 received?"
    assert trace["decision"]["rule"] == "model_yes" and trace["decision"]["answerable"]
    assert {"passage_id", "article_title", "dense", "coverage", "bm25"} <= set(
        trace["candidates"][0]
    )
    assert trace["answer"] and all(s["sentence"] in reply["answer"] for s in trace["answer"])
    declined = client.post(
        "/api/ask", json={"question": "What is the capital of Australia?", "explain": True}
    ).json()
    assert not declined["grounded"] and declined["trace"]["decision"]["rule"] == "unknown_entity"


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
    assert fake_client.get(f"/api/sessions/{sid}").status_code == 404  # the id alone

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
    turns = fake_client.get(f"/api/sessions/{sid}", headers={"X-Session-Secret": secret})
    assert [t["question"] for t in turns.json()["turns"]] == [ask, "And its size?", ask]


def test_zero_width_characters_are_not_read(fake_client: TestClient) -> None:
    """U+200B-U+200D, U+2060 and U+FEFF are dropped before a question is read: one of
    nothing else is empty, and "Avo\u200bcado" is the name (HTTP and the socket)."""
    for only in ("\u200b", "\u200b\u200c\u200d", " \u2060 \ufeff "):
        empty = fake_client.post("/api/ask", json={"question": only})
        assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_question"
    plain = fake_client.post("/api/ask", json={"question": "What is Avocado?"}).json()
    hidden = fake_client.post("/api/ask", json={"question": "What is Avo\u200bca\ufeffdo?"})
    assert hidden.json()["grounded"] and hidden.json()["sources"] == plain["sources"]
    sid, secret = hidden.json()["session_id"], hidden.json()["session_secret"]
    turns = fake_client.get(f"/api/sessions/{sid}", headers={"X-Session-Secret": secret})
    assert turns.json()["turns"][0]["question"] == "What is Avocado?"  # as read, stored
    with fake_client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "text", "text": "\u200b\u200b"})
        assert ws.receive_json()["code"] == "empty_question"
        ws.send_json({"type": "text", "text": "What is Avo\u200dcado?"})
        while (event := ws.receive_json())["type"] != "answer.done":
            pass
        assert event["grounded"] and event["sources"] == plain["sources"]


def test_errors_repeat_at_most_64_characters_of_what_was_sent(fake_client: TestClient) -> None:
    long = "x" * 5000
    for path in (f"/api/sessions/{long}", f"/api/articles/jobs/{long}", f"/api/articles/{long}"):
        reply = fake_client.get(path)
        assert reply.status_code == 404, path
        assert "x" * 65 not in reply.json()["error"]["message"], path
    refused = fake_client.get(f"/api/learners/{long}")
    assert refused.status_code == 422 and "x" * 65 not in refused.text
    odd = fake_client.post("/api/ask", json={"question": "What is Avocado?", "session_id": long})
    assert odd.status_code == 422 and "x" * 65 not in odd.text
    for bad in ("x" * 1999 + "\x00", "\x00" + "x" * 1999):
        refused = fake_client.post("/api/ask", json={"question": bad})
        assert refused.status_code == 400 and "x" * 65 not in refused.text
    with fake_client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "session_id": long})
        first = ws.receive_json()  # the bad field, then ready with the defaults
        assert first["code"] == "bad_message" and "x" * 65 not in first["message"]
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "playback", "turn_id": "t" * 64, "played_ms": 1})
        assert ws.receive_json()["message"] == f"no recent turn {'t' * 64}"
        ws.send_json({"type": "playback", "turn_id": long, "played_ms": 1})
        assert "x" * 65 not in ws.receive_json()["message"]


def test_head_works_wherever_get_does(fake_client: TestClient) -> None:
    for path in ("/", "/api/articles", "/api/articles/1", "/healthz", "/static/app.js"):
        got, head = fake_client.get(path), fake_client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert fake_client.head("/api/articles/999").status_code == 404
    assert fake_client.head("/api/ask").status_code == 405  # no GET there either


def test_sessions_from_before_resume_secrets_are_not_continued(tmp_path: Path) -> None:
    import sqlite3

    from server.storage.store import Store

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


def test_articles_stored_before_page_details_get_them_without_being_added_again(
    tmp_path: Path,
) -> None:
    import sqlite3

    from server.core.config import BUNDLED_CORPUS
    from server.storage.library import Library
    from server.storage.store import Store

    store = Store(tmp_path / "old.sqlite3")
    library = Library(store)
    library.seed(BUNDLED_CORPUS)
    store.close()
    db = sqlite3.connect(tmp_path / "old.sqlite3")
    db.execute("UPDATE articles SET details = NULL")  # as stored before the column was read
    first = db.execute("SELECT id FROM articles ORDER BY id").fetchone()[0]
    db.execute("DELETE FROM articles WHERE id = ?", (first,))  # the learner removed one
    db.commit()
    db.close()
    store = Store(tmp_path / "old.sqlite3")
    changes: list[int] = []
    library = Library(store)
    library.on_change(lambda: changes.append(1))
    assert library.seed(BUNDLED_CORPUS) == 0
    articles = store.articles()
    assert len(articles) == 1 and changes == [1]  # the removed one stays removed
    assert articles[0].details["reading_minutes"]
    library.seed(BUNDLED_CORPUS)
    assert changes == [1]  # nothing left to give details to
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


# --- uploads off the event loop, streamed, refused at the limit ---------------------------

BOUNDARY = "tutorboundary"
FORM_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="up.txt"\r\n'
    "Content-Type: text/plain\r\n\r\n"
).encode()
FORM_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def open_upload(port: int, headers: str = "Transfer-Encoding: chunked\r\n") -> socket.socket:
    """A raw POST /api/articles whose body the test sends (or doesn't) bit by bit."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    conn.sendall(
        (
            f"POST /api/articles HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{headers}\r\n"
        ).encode()
    )
    return conn


def response(conn: socket.socket) -> tuple[int, dict]:
    reply = http.client.HTTPResponse(conn)
    reply.begin()
    return reply.status, json.loads(reply.read())


def test_the_server_answers_while_an_upload_streams_and_while_it_is_indexed(
    tmp_path: Path,
) -> None:
    """A slow client holds its upload open, then the index rebuild is held: /healthz
    answers in both, from the old index, and so does a question; the upload's answer (202)
    comes before the rebuild, its job says it is indexing, and the new index is swapped in
    after."""
    with served(Settings(data_dir=tmp_path, build_lessons=False)):
        services = served.app.state.services
        base = f"http://127.0.0.1:{services.settings.port}"
        before = httpx.get(f"{base}/healthz").json()["passages"]
        rebuilding, answered, held = threading.Event(), threading.Event(), []
        rebuild = services.index.rebuild

        def held_rebuild(*args, **kwargs) -> None:  # the real rebuild, after /healthz
            rebuilding.set()
            # On the event loop nothing could answer: give up after a while, and fail.
            held.append(answered.wait(WAIT / 2))
            rebuild(*args, **kwargs)

        services.index.rebuild = held_rebuild
        upload = open_upload(services.settings.port)
        upload.sendall(chunk(FORM_HEAD + ALPACAS[:40]))
        assert httpx.get(f"{base}/healthz", timeout=WAIT).status_code == 200
        upload.sendall(chunk(ALPACAS[40:] + FORM_TAIL) + b"0\r\n\r\n")
        status, job = response(upload)
        assert status == 202 and job["state"] in ("pending", "indexing"), job
        assert rebuilding.wait(WAIT)
        during = httpx.get(f"{base}/healthz", timeout=WAIT).json()
        polled = httpx.get(f"{base}/api/articles/jobs/{job['job']}", timeout=WAIT).json()
        asked = httpx.post(f"{base}/api/ask", json={"question": "What is Avocado?"}, timeout=WAIT)
        answered.set()
        with httpx.Client(base_url=base, timeout=WAIT) as http:
            done = wait_for_job(http, job)
        assert held == [True]  # /healthz answered before the rebuild went on
        assert during["articles"] == 3 and during["passages"] == before  # the old index
        assert polled["state"] == "indexing" and polled["step"] == "stored", polled
        assert 0 < polled["progress"] < 1
        assert asked.status_code == 200 and asked.json()["answer"]
        assert done["state"] == "ready"
        assert done["article"]["title"] == "Alpaca farming in the Andes"
        assert httpx.get(f"{base}/healthz").json()["passages"] > before


def test_a_body_over_the_limit_is_refused_without_being_read_or_spooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    limit = 100_000
    settings = Settings(data_dir=tmp_path / "data", build_lessons=False, max_upload_bytes=limit)
    with served(settings):
        port = settings.port
        # Announced: refused from the headers, before any of the body is sent.
        announced = open_upload(port, f"Content-Length: {10**9}\r\n")
        assert response(announced) == (413, too_large(limit))

        # Not announced (chunked): refused at the limit; the connection closes and the
        # rest is never read, so the sender is stopped long before the end.
        streamed = open_upload(port)
        piece, total, sent = b"word " * 13_000, 64 * 2**20, 0
        try:
            streamed.sendall(chunk(FORM_HEAD))
            while sent < total:
                streamed.sendall(chunk(piece))
                sent += len(piece)
        except OSError:  # reset by the server: expected
            pass
        assert response(streamed) == (413, too_large(limit))
        assert sent < total / 4
        assert not [p for p in spool.rglob("*") if p.is_file() and p.stat().st_size > limit]
        assert len(httpx.get(f"http://127.0.0.1:{port}/api/articles").json()) == 2


def too_large(limit: int) -> dict:
    message = f"the file is larger than the {limit}-byte limit"
    return {"error": {"code": "too_large", "message": message}}


def test_concurrent_uploads_and_deletes_rebuild_one_at_a_time(client: TestClient) -> None:
    """Eight changes at once: the index is rebuilt once per change, never two at a time,
    and ends matching the library."""
    services = client.app.state.services
    rebuild, running, most = services.index.rebuild, [0], [0]
    lock = threading.Lock()

    def counted(*args, **kwargs) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            rebuild(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    services.index.rebuild = counted
    texts = [ALPACAS.replace(b"Sunday", day) for day in (b"Monday", b"Friday", b"Saturday")]
    calls = [lambda t=t: client.post("/api/articles", files={"file": ("a.txt", t)}) for t in texts]
    calls += [lambda: client.delete("/api/articles/1"), lambda: client.delete("/api/articles/2")]
    replies: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda c=c: replies.append(c())) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in replies) == [202, 202, 202, 204, 204]
    jobs = [wait_for_job(client, r.json()) for r in replies if r.status_code == 202]
    assert [job["state"] for job in jobs] == ["ready"] * 3
    assert most == [1]
    library = {a.id for a in services.store.articles()}
    assert len(library) == 3 and {1, 2}.isdisjoint(library)
    assert {p.article_id for p in services.index.passages} == library
