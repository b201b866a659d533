"""The app as uvicorn serves it (`serve_options`, as the CLI does), spoken to over real
sockets: what a clumsy or hostile client can cause at the transport gets a typed error,
never a bare close or a traceback (fake engines: these are about the transport)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.core.config import Settings
from server.core.metrics import ERRORS
from server.engines import Engines
from server.ops.cliutil import free_port
from server.web.app import create_app, serve_options
from tests.fakes import fake_engines

WAIT = 60  # seconds a receive may block before the test fails instead of hanging


@contextmanager
def served(settings: Settings, engines: Engines | None = None) -> Iterator[str]:
    """The app on a free loopback port, served in a thread; yields its ws:// base URL
    (the app is `served.app`)."""
    settings.host, settings.port = "127.0.0.1", free_port()
    app = served.app = create_app(settings, engines or fake_engines())
    server = uvicorn.Server(uvicorn.Config(app, **serve_options(settings, log_config=None)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started and thread.is_alive():
        started.wait(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"ws://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def receive(ws: ClientConnection) -> dict:
    """The next JSON event (reply audio skipped)."""
    while True:
        message = ws.recv(timeout=WAIT)
        if isinstance(message, str):
            return json.loads(message)


def hello(ws: ClientConnection) -> dict:
    ws.send(json.dumps({"type": "hello"}))
    ready = receive(ws)
    assert ready["type"] == "ready", ready
    return ready


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, build_lessons=False, max_message_bytes=64_000)


@pytest.mark.parametrize("size", [100_000, 10_000_000])
def test_an_oversized_text_message_gets_too_large_before_any_close(
    settings: Settings, size: int
) -> None:
    """Past our limit: `too_large` and the session goes on; far past it (beyond what the
    transport reads at all): `too_large`, then the close (1009)."""
    with served(settings) as base, connect(f"{base}/ws/chat", max_size=None) as ws:
        hello(ws)
        try:
            ws.send("x" * size)
        except ConnectionClosed:
            pass  # the server may close while the client is still sending
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "too_large", error
        if size < 4 * settings.max_message_bytes:
            ws.send(json.dumps({"type": "ping"}))
            assert receive(ws)["type"] == "pong"
        else:
            with pytest.raises(ConnectionClosed) as closed:
                receive(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_an_oversized_hello_gets_too_large(settings: Settings) -> None:
    with served(settings) as base, connect(f"{base}/ws/chat") as ws:
        ws.send(json.dumps({"type": "hello", "pad": "é" * 40_000}))  # 80 kB as UTF-8
        assert receive(ws)["code"] == "too_large"
        assert receive(ws)["type"] == "ready"  # with the defaults, as for any bad hello


def settled(app: object) -> None:
    """Wait until the server has finished with every socket."""
    done = threading.Event()
    while app.state.admission.open_sessions and not done.wait(0.05):  # type: ignore[attr-defined]
        pass


def errors_sent(code: str) -> float:
    return ERRORS.labels(code=code)._value.get()


@pytest.mark.parametrize("how", ["close", "drop", "flood"])
def test_a_client_that_leaves_mid_reply_is_a_normal_end(
    settings: Settings, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """Closing the socket (or dropping the connection) while a spoken reply streams:
    no traceback, no `internal` or `turn_failed` error, and the server serves on."""
    engines = fake_engines(reply=" ".join(["Avocado is a frontier model."] * 30), delay=0.01)
    before = {code: errors_sent(code) for code in ("internal", "turn_failed")}
    with served(settings, engines) as base:
        for _ in range(3):
            with connect(f"{base}/ws/chat", max_queue=None) as ws:
                hello(ws)
                ws.send(json.dumps({"type": "text", "text": "What is Avocado?", "speak": True}))
                while receive(ws)["type"] != "audio.start":
                    pass
                if how == "close":
                    ws.close()
                elif how == "flood":  # the server is answering these when the client goes
                    for _ in range(3000):
                        ws.send(json.dumps({"type": "ping"}))
                    ws.socket.close()
                else:
                    ws.socket.shutdown(socket.SHUT_RDWR)
                    ws.socket.close()
            settled(served.app)
        with connect(f"{base}/ws/chat") as ws:  # still serving
            hello(ws)
            ws.send(json.dumps({"type": "ping"}))
            assert receive(ws)["type"] == "pong"
    assert "Exception in ASGI application" not in caplog.text
    server_side = [r for r in caplog.records if not r.name.startswith("websockets.client")]
    assert not [r for r in server_side if r.levelno >= logging.ERROR], caplog.text
    assert {code: errors_sent(code) for code in before} == before


def test_sockets_that_never_say_hello_are_closed_and_free_their_slots(settings: Settings) -> None:
    settings.hello_timeout_s, settings.max_sessions = 0.5, 2
    with served(settings) as base:
        with connect(f"{base}/ws/chat") as silent, connect(f"{base}/ws/voice") as quiet:
            for ws in (silent, quiet):
                error = receive(ws)
                assert error["type"] == "error" and error["code"] == "hello_timeout", error
                with pytest.raises(ConnectionClosed):
                    receive(ws)
        settled(served.app)
        with connect(f"{base}/ws/chat") as third:  # not `busy`: the silent ones are gone
            hello(third)


@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]])
def test_forwarded_for_counts_only_from_a_trusted_proxy(
    settings: Settings, trusted: list[str]
) -> None:
    """The question rate limit keys on the real peer: eight asks that each claim another
    X-Forwarded-For are one client, unless the peer is a configured proxy."""
    settings.question_rate_limit, settings.trusted_proxies = "3/minute", trusted
    with served(settings) as base:
        url = base.replace("ws://", "http://") + "/api/ask"
        codes = [
            httpx.post(
                url,
                json={"question": "What is Avocado?"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
                timeout=WAIT,
            ).status_code
            for i in range(8)
        ]
    assert codes == ([200] * 8 if trusted else [200] * 3 + [429] * 5)


def connect_from(base: str, address: str) -> ClientConnection:
    """A websocket from another loopback address (127.0.0.0/8 is all this machine's)."""
    host, port = base.removeprefix("ws://").split(":")
    sock = socket.create_connection((host, int(port)), source_address=(address, 0))
    return connect(f"{base}/ws/chat", sock=sock)


def test_sockets_that_only_ping_do_not_keep_a_learner_out(settings: Settings) -> None:
    """Eight sockets, four from each of two addresses, say hello and then only ping: the
    tutor is full (TUTOR_MAX_SESSIONS 8). A ninth learner is still let in: the session
    idle longest (the first, whatever its pings) is closed with `evicted`, and the others
    go on."""
    settings.max_sessions, settings.max_sockets_per_address = 8, 4
    with served(settings) as base, ExitStack() as sockets:
        served.app.state.admission.evict_after_s = 0  # type: ignore[attr-defined]
        pingers = []
        for i in range(8):
            ws = sockets.enter_context(connect_from(base, "127.0.0.2" if i < 4 else "127.0.0.3"))
            hello(ws)
            pingers.append(ws)
        for _ in range(2):  # pings, from the oldest first: none of them is activity
            for ws in pingers:
                ws.send(json.dumps({"type": "ping"}))
                assert receive(ws)["type"] == "pong"
        with connect_from(base, "127.0.0.4") as learner:
            hello(learner)  # `ready`, not `busy`
            learner.send(json.dumps({"type": "text", "text": "What is Avocado?"}))
            while (event := receive(learner))["type"] != "answer.done":
                assert event["type"] != "error", event
        evicted = receive(pingers[0])
        assert evicted["type"] == "error" and evicted["code"] == "evicted", evicted
        with pytest.raises(ConnectionClosed):
            receive(pingers[0])
        for ws in pingers[1:]:
            ws.send(json.dumps({"type": "ping"}))
            assert receive(ws)["type"] == "pong"


def test_while_the_tutor_is_full_of_active_learners_a_newcomer_is_told_busy(
    settings: Settings,
) -> None:
    """Sessions active more recently than `evict_after_s` are not closed for anyone."""
    settings.max_sessions = 2
    with served(settings) as base:
        with connect(f"{base}/ws/chat") as one, connect(f"{base}/ws/chat") as two:
            hello(one)
            hello(two)
            with connect(f"{base}/ws/chat") as third:
                assert receive(third)["code"] == "busy"
            one.send(json.dumps({"type": "ping"}))
            assert receive(one)["type"] == "pong"


def test_an_idle_session_is_closed_though_it_pings(settings: Settings) -> None:
    """Pings keep the connection, not the session: with no learner message for
    TUTOR_IDLE_TIMEOUT_S, the session ends with `idle_timeout` however often it pings."""
    settings.idle_timeout_s = 1.0
    with served(settings) as base, connect(f"{base}/ws/chat") as ws:
        hello(ws)
        seen = []
        for _ in range(600):  # a ping every 50 ms, for as long as the session lasts
            try:
                ws.send(json.dumps({"type": "ping"}))
            except ConnectionClosed:
                pass  # closed meanwhile: what was said before the close is still read
            seen.append(receive(ws))
            if seen[-1]["type"] == "error":
                break
            threading.Event().wait(0.05)
        assert seen[-1] == {
            "type": "error",
            "code": "idle_timeout",
            "message": "closing an idle session",
        }, seen[-3:]
        assert {e["type"] for e in seen[:-1]} == {"pong"}
        with pytest.raises(ConnectionClosed):
            receive(ws)
