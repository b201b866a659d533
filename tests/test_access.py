"""Token, Origin and rate limits (fake engines: these are about the gates, not the models)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.config import Settings
from tests.fakes import fake_engines

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
    assert guarded.get("/api/articles?token=s3cret").status_code == 200
    assert guarded.get("/metrics").status_code == 401


def test_token_guards_websockets(guarded: TestClient) -> None:
    with guarded.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json()["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008
    with guarded.websocket_connect("/ws/chat?token=s3cret") as ws:
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
    with guarded.websocket_connect("/ws/chat?token=s3cret") as ws:
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
