"""Token, Origin and rate limits (fake engines: these are about the gates, not the models)."""

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from server.core.config import Settings
from server.lessons import Lessons
from server.session.access import TICKET_TTL_S, Access
from server.storage.library import Library
from server.storage.store import Store
from server.web.app import create_app
from tests.fakes import fake_engines
from tests.test_transport import hello, receive, served

HOSTS = ["testserver"]  # the Host header Starlette's TestClient sends


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, api_token="s3cret", question_rate_limit="3/minute", allowed_hosts=HOSTS
    )
    with TestClient(create_app(settings, fake_engines())) as client:
        yield client


def test_token_guards_every_route_but_health_and_the_page(guarded: TestClient) -> None:
    assert guarded.get("/healthz").status_code == 200
    assert guarded.get("/").status_code == 200
    denied = guarded.get("/api/articles")
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    assert guarded.get("/api/articles", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (
        guarded.get("/api/articles", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    )
    assert guarded.get("/api/articles", headers={"X-Tutor-Token": "s3cret"}).status_code == 200
    assert guarded.get("/metrics").status_code == 401
    # An upload's job too: without the token not even "no such job" is said.
    assert guarded.get("/api/articles/jobs/any").status_code == 401
    token = {"Authorization": "Bearer s3cret"}
    assert guarded.get("/api/articles/jobs/any", headers=token).status_code == 404
    # Never in a URL, where access logs, proxies and browser history keep it.
    assert guarded.get("/api/articles?token=s3cret").status_code == 401


def refused(client: TestClient, url: str) -> None:
    """The socket at `url` gets `error unauthorized`, then close 1008."""
    with client.websocket_connect(url) as ws:
        assert ws.receive_json()["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def test_token_guards_websockets(guarded: TestClient) -> None:
    refused(guarded, "/ws/chat")
    refused(guarded, "/ws/chat?token=s3cret")  # not in the URL
    # Scripts and other non-browser clients send it as a header.
    with guarded.websocket_connect("/ws/chat", headers={"Authorization": "Bearer s3cret"}) as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"


def test_a_ticket_opens_one_socket_once(guarded: TestClient) -> None:
    """Browsers cannot set a socket's headers: they trade the token (in a header) for a
    single-use ticket, which goes in the socket's URL instead of the token."""
    assert guarded.post("/api/ticket").status_code == 401
    issued = guarded.post("/api/ticket", headers={"Authorization": "Bearer s3cret"})
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    ticket = issued.json()["ticket"]
    assert issued.json()["expires_in"] == TICKET_TTL_S and "s3cret" not in ticket
    with guarded.websocket_connect(f"/ws/voice?ticket={ticket}") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"
    refused(guarded, f"/ws/voice?ticket={ticket}")  # used
    refused(guarded, "/ws/voice?ticket=made-up")
    # A ticket opens sockets only: the HTTP routes still need the token.
    again = guarded.post("/api/ticket", headers={"X-Tutor-Token": "s3cret"}).json()["ticket"]
    assert guarded.get(f"/api/articles?ticket={again}").status_code == 401


def test_an_expired_ticket_is_refused(guarded: TestClient) -> None:
    access = guarded.app.state.services.access
    now = access.clock()
    access.clock = lambda: now
    auth = {"Authorization": "Bearer s3cret"}
    stale, fresh = (guarded.post("/api/ticket", headers=auth).json()["ticket"] for _ in "ab")
    access.clock = lambda: now + TICKET_TTL_S + 1
    refused(guarded, f"/ws/chat?ticket={stale}")
    access.clock = lambda: now + TICKET_TTL_S - 1
    with guarded.websocket_connect(f"/ws/chat?ticket={fresh}") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"


def test_other_sites_cannot_open_sockets_or_change_data(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, allowed_hosts=HOSTS, port=80)
    with TestClient(create_app(settings, fake_engines())) as client:
        evil = {"Origin": "https://evil.example"}
        with client.websocket_connect("/ws/voice", headers=evil) as ws:
            assert ws.receive_json()["code"] == "forbidden_origin"
        upload = client.post(
            "/api/articles", headers=evil, files={"file": ("x.txt", b"Some text " * 30)}
        )
        assert upload.status_code == 403
        assert client.get("/api/articles", headers=evil).status_code == 200  # reads are safe
        with client.websocket_connect("/ws/voice", headers={"Origin": "http://testserver"}) as ws:
            ws.send_json({"type": "hello"})
            assert ws.receive_json()["type"] == "ready"


def test_allowed_origins_setting(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, allowed_origins="https://tutor.example, http://x", allowed_hosts=HOSTS
    )
    assert settings.allowed_origins == ["https://tutor.example", "http://x"]
    with TestClient(create_app(settings, fake_engines())) as client:
        with client.websocket_connect(
            "/ws/chat", headers={"Origin": "https://tutor.example"}
        ) as ws:
            ws.send_json({"type": "hello"})
            assert ws.receive_json()["type"] == "ready"
        with client.websocket_connect("/ws/chat", headers={"Origin": "http://testserver"}) as ws:
            assert ws.receive_json()["code"] == "forbidden_origin"


def test_questions_are_rate_limited_per_client(guarded: TestClient) -> None:
    auth = {"X-Tutor-Token": "s3cret"}
    for _ in range(2):
        assert (
            guarded.post(
                "/api/ask", json={"question": "What is Avocado?"}, headers=auth
            ).status_code
            == 200
        )
    with guarded.websocket_connect("/ws/chat", headers=auth) as ws:
        ws.send_json({"type": "hello"})
        ws.receive_json()
        ws.send_json({"type": "text", "text": "What is Avocado?"})
        while ws.receive_json()["type"] != "answer.done":
            pass
        ws.send_json({"type": "text", "text": "What is Avocado?"})
        error = ws.receive_json()
        while error["type"] != "error":
            error = ws.receive_json()
        assert error["code"] == "rate_limited"
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"  # the session goes on
    limited = guarded.post("/api/ask", json={"question": "What is Avocado?"}, headers=auth)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"


def test_bad_rate_setting_is_refused_at_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TUTOR_QUESTION_RATE_LIMIT": "lots", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "TUTOR_QUESTION_RATE_LIMIT" in result.stderr and "Traceback" not in result.stderr


def test_one_address_cannot_hold_every_socket(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, max_sockets_per_address=2, max_sessions=8, allowed_hosts=HOSTS
    )
    with TestClient(create_app(settings, fake_engines())) as client:
        with (
            client.websocket_connect("/ws/chat") as first,
            client.websocket_connect("/ws/voice") as second,
        ):
            for ws in (first, second):
                ws.send_json({"type": "hello"})
                assert ws.receive_json()["type"] == "ready"
            with client.websocket_connect("/ws/chat") as third:
                third.send_json({"type": "hello"})
                assert third.receive_json()["code"] == "too_many_sockets"
                with pytest.raises(WebSocketDisconnect) as closed:
                    third.receive_json()
                assert closed.value.code == 1013
        with client.websocket_connect("/ws/chat") as again:  # closing frees the address
            again.send_json({"type": "hello"})
            assert again.receive_json()["type"] == "ready"


def test_a_foreign_host_is_refused(tmp_path: Path) -> None:
    """DNS rebinding: a page on evil.example, which resolves to us, sends its own Host
    and Origin. Only the allowed hosts (default: TUTOR_HOST, 127.0.0.1, localhost) are
    served."""
    app = create_app(Settings(data_dir=tmp_path), fake_engines())
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        rebound = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
        assert client.delete("/api/articles/1", headers=rebound).status_code == 400
        assert client.get("/api/articles", headers=rebound).status_code == 400
        with pytest.raises(WebSocketDenialResponse) as denied:
            with client.websocket_connect("/ws/chat", headers=rebound):
                pass
        assert denied.value.status_code == 400
        for name in ("127.0.0.1:8000", "localhost:8000", "localhost"):
            assert client.get("/api/articles/1", headers={"Host": name}).status_code == 200


def test_the_allowed_origins_never_come_from_the_request(tmp_path: Path) -> None:
    """With every host served, a request's own Host no longer vouches for its Origin:
    the default origins are the allowed hosts' on TUTOR_PORT."""
    settings = Settings(data_dir=tmp_path, allowed_hosts=["*"], port=8000)
    assert "http://127.0.0.1:8000" in settings.origins and not any(
        "*" in o for o in settings.origins
    )
    with TestClient(create_app(settings, fake_engines())) as client:
        rebound = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
        refused = client.delete("/api/articles/1", headers=rebound)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden_origin"
        with client.websocket_connect("/ws/chat", headers=rebound) as ws:
            assert ws.receive_json()["code"] == "forbidden_origin"
        ours = {"Host": "localhost:8000", "Origin": "http://localhost:8000"}
        with client.websocket_connect("/ws/chat", headers=ours) as ws:
            ws.send_json({"type": "hello"})
            assert ws.receive_json()["type"] == "ready"
        assert client.delete("/api/articles/1", headers=ours).status_code == 204


def test_trusted_proxies_are_addresses_or_networks(tmp_path: Path) -> None:
    assert Settings().trusted_proxies == []  # by default no forwarded header is believed
    settings = Settings(trusted_proxies="10.0.0.0/8, 192.0.2.7, ::1")
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.0.2.7", "::1"]
    with pytest.raises(ValueError, match="not an address or network"):
        Settings(trusted_proxies="proxy.example")


def test_bad_allowed_hosts_are_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        Settings(data_dir=tmp_path, allowed_hosts="tutor.*.example")
    assert Settings(allowed_hosts="a.example, *.b.example").allowed_hosts == [
        "a.example",
        "*.b.example",
    ]


def with_lessons(tmp_path: Path, **settings: object) -> Settings:
    """Settings whose data folder holds the bundled articles' lessons (scripts only)."""
    settings = {"allowed_hosts": HOSTS} | settings
    config = Settings(data_dir=tmp_path, build_lessons=False, **settings)
    store = Store(config.db_path)
    Library(store).seed(config.corpus_dir)
    asyncio.run(Lessons(store, config.cache_dir, tts=fake_engines().tts, polite=False).sync(False))
    store.close()
    return config


def test_lesson_audio_urls_are_signed_and_short_lived(tmp_path: Path) -> None:
    """An <audio> element cannot send the token: with one set, the lessons API hands out
    audio URLs signed for that path until an expiry, and the token stays out of them."""
    settings = with_lessons(tmp_path, api_token="s3cret")
    with TestClient(create_app(settings, fake_engines())) as client:
        auth = {"Authorization": "Bearer s3cret"}
        lesson = client.get("/api/lessons/1", headers=auth).json()
        first, second = (s["audio_url"] for s in lesson["segments"][:2])
        assert "s3cret" not in first and lesson["audio_url_expires_in"] == 300
        path, query = first.split("?")
        assert path == "/api/lessons/1/segments/0/audio" and set(parse_qs(query)) == {"exp", "sig"}
        assert client.get(path).status_code == 401  # unsigned
        played = client.get(first)
        assert played.status_code == 200 and played.headers["content-type"] == "audio/ogg"
        ranged = client.get(first, headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206
        # HEAD where GET works (players check a URL first): the headers, no body.
        head = client.head(first)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == "audio/ogg"
        assert head.headers["content-length"] == str(len(played.content))
        assert client.head(path).status_code == 401  # unsigned, as for GET

        other_path = urlsplit(second).path
        assert client.get(f"{other_path}?{query}").status_code == 401  # another segment
        exp, sig = parse_qs(query)["exp"][0], parse_qs(query)["sig"][0]
        assert client.get(f"{path}?exp={int(exp) + 3600}&sig={sig}").status_code == 401
        assert client.get(f"{path}?exp={exp}&sig={'0' * len(sig)}").status_code == 401
        assert client.get(f"/api/lessons/1?exp={exp}&sig={sig}").status_code == 401
        access = client.app.state.services.access
        access.clock = lambda: int(exp) + 1
        assert client.get(first).status_code == 401  # expired


def test_without_a_token_lesson_audio_urls_are_plain(tmp_path: Path) -> None:
    with TestClient(create_app(with_lessons(tmp_path), fake_engines())) as client:
        lesson = client.get("/api/lessons/1").json()
        assert lesson["segments"][0]["audio_url"] == "/api/lessons/1/segments/0/audio"
        assert "audio_url_expires_in" not in lesson


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_access_logs_never_print_a_secret(tmp_path: Path) -> None:
    """uvicorn logs every request's and socket's path with its query string: tokens,
    tickets and signatures in it are printed as [redacted]."""
    settings = with_lessons(tmp_path, api_token="s3cret", allowed_hosts=["127.0.0.1"])
    lines = Lines()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(lines)
    try:
        with served(settings) as ws_url:
            base = ws_url.replace("ws://", "http://")
            auth = {"Authorization": "Bearer s3cret"}
            with httpx.Client(base_url=base, timeout=60) as http:
                assert http.get("/api/articles?token=s3cret").status_code == 401
                ticket = http.post("/api/ticket", headers=auth).json()["ticket"]
                audio = http.get("/api/lessons/1", headers=auth).json()["segments"][0]
                assert http.get(audio["audio_url"]).status_code == 200
            with connect(f"{ws_url}/ws/voice?ticket={ticket}") as ws:
                hello(ws)
            with connect(f"{ws_url}/ws/voice?ticket={ticket}") as ws:
                assert receive(ws)["code"] == "unauthorized"
    finally:
        for logger in loggers:
            logger.removeHandler(lines)
    sig = parse_qs(urlsplit(audio["audio_url"]).query)["sig"][0]
    logged = "\n".join(lines.lines)
    for secret in ("s3cret", ticket, sig):
        assert secret not in logged, logged
    # The lines are still there, with the secrets blanked.
    assert "/api/articles?token=[redacted]" in logged
    assert logged.count("/ws/voice?ticket=[redacted]") == 2
    assert "sig=[redacted]" in logged


def test_a_ticket_from_one_host_opens_a_socket_once_on_any_host(tmp_path: Path) -> None:
    """Behind a load balancer the ticket request and the socket may reach different
    hosts: the ticket is signed with a key made from the token, and its use is recorded
    in the database they share, so it opens one socket, on whichever host. A signed audio
    URL plays from any host too; another token's tickets and URLs are refused."""
    settings = Settings(data_dir=tmp_path, api_token="s3cret")
    store_a, store_b = Store(settings.database), Store(settings.database)
    try:
        a, b = Access(settings, store=store_a), Access(settings, store=store_b)
        ticket = a.issue_ticket()
        assert "s3cret" not in ticket
        assert b.redeem_ticket(ticket)  # another host
        assert not a.redeem_ticket(ticket) and not b.redeem_ticket(ticket)  # once, anywhere
        forged = ticket[:-1] + ("0" if ticket[-1] != "0" else "1")
        assert not b.redeem_ticket(forged)
        other = Access(Settings(data_dir=tmp_path, api_token="other"), store=store_b)
        assert not other.redeem_ticket(a.issue_ticket())
        path = "/api/lessons/1/segments/0/audio"
        signed = a.sign(path)
        request = Request(
            {
                "type": "http",
                "method": "GET",
                "path": path,
                "query_string": signed.split("?")[1].encode(),
                "headers": [],
                "server": ("testserver", 80),
                "scheme": "http",
            }
        )
        assert b.signed_ok(request) and not other.signed_ok(request)
    finally:
        store_a.close()
        store_b.close()
