"""Several tutor hosts over one database (as behind a load balancer): any host continues
any session, says which host it is, and follows library changes made on another host.

Two real apps in one process share a data folder (its SQLite file); the engines are fakes
of our own interfaces, since these tests are about state, not models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.web.app import create_app
from tests.fakes import fake_engines
from tests.uploads import add_article

ALPACAS = (
    b"Alpaca farming in the Andes\n\nAlpacas are shorn once a year, in spring, for "
    b"their soft fleece. The fleece is spun into yarn by farmers in Peru and sold at the "
    b"market in Cusco every Sunday.\n"
)
FLEECE = "Where is the alpaca fleece sold?"


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    def host(name: str) -> TestClient:
        settings = Settings(
            data_dir=tmp_path / "shared",
            host_name=name,
            library_poll_s=0.2,
            build_lessons=False,
            allowed_hosts=["testserver"],
        )
        return TestClient(create_app(settings, fake_engines()))

    with host("host-a") as a, host("host-b") as b:
        yield a, b


def chat(client: TestClient, text: str, **hello: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One typed turn on a chat socket: (ready, done)."""
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", **hello})
        ready = ws.receive_json()
        assert ready["type"] == "ready", ready
        ws.send_json({"type": "text", "text": text})
        while (event := ws.receive_json())["type"] != "answer.done":
            assert event["type"] != "error", event
        return ready, event


def eventually(check: Any, seconds: float = 30.0) -> Any:
    """Poll until `check()` is truthy (the other host looks every 0.2 s); fail after
    `seconds`, a bound far past any machine's rebuild, not a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s")


def test_a_session_begun_on_one_host_continues_on_the_other(
    hosts: tuple[TestClient, TestClient],
) -> None:
    a, b = hosts
    ready, first = chat(a, "When is Avocado expected to launch?")
    assert ready["host"] == "host-a" and not ready["resumed"]
    assert first["grounded"]
    sid, secret = ready["session_id"], ready["session_secret"]

    # The follow-up needs the earlier turn: "it" is Avocado only through the history,
    # which the other host reads from the shared database.
    again, follow = chat(b, "Who is leading it?", session_id=sid, session_secret=secret)
    assert again["host"] == "host-b" and again["resumed"] and again["session_id"] == sid
    assert follow["grounded"] and "Wang" in follow["text"], follow["text"]

    for client in (a, b):
        turns = client.get(f"/api/sessions/{sid}", headers={"X-Session-Secret": secret})
        turns = turns.json()["turns"]
        assert [t["question"] for t in turns] == [
            "When is Avocado expected to launch?",
            "Who is leading it?",
        ]
    assert a.get("/healthz").json()["host"] == "host-a"
    assert b.get("/healthz").json()["host"] == "host-b"


def test_an_article_added_or_removed_on_one_host_is_answered_from_on_the_other(
    hosts: tuple[TestClient, TestClient],
) -> None:
    a, b = hosts
    assert not b.post("/api/ask", json={"question": FLEECE}).json()["grounded"]
    created = add_article(a, "alpacas.txt", ALPACAS)
    assert created["state"] == "ready", created

    def b_answers() -> dict[str, Any] | None:
        reply = b.post("/api/ask", json={"question": FLEECE}).json()
        return reply if reply["grounded"] else None

    reply = eventually(b_answers)
    assert "Cusco" in reply["answer"] or "Peru" in reply["answer"]
    assert b.get("/healthz").json()["articles"] == 3

    assert b.delete(f"/api/articles/{created['article']['id']}").status_code == 204
    eventually(lambda: not a.post("/api/ask", json={"question": FLEECE}).json()["grounded"])


def test_a_host_believes_x_forwarded_for_only_beside_the_balancers_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind `tutor cluster up`'s HAProxy, which drops the client's X-Forwarded-For, adds
    the peer it saw and its secret header: with the secret, X-Forwarded-For is the client
    (its per-address limits are its own); without it, or with a wrong one, the peer is,
    whatever the header claims."""
    monkeypatch.setenv("TUTOR_PROXY_SECRET", "the-balancers-secret")
    settings = Settings(
        data_dir=tmp_path,
        question_rate_limit="2/hour",
        build_lessons=False,
        allowed_hosts=["testserver"],
    )

    with TestClient(create_app(settings, fake_engines())) as client:

        def ask(forwarded_for: str, proxy: str | None) -> int:
            headers = {"X-Forwarded-For": forwarded_for}
            if proxy is not None:
                headers["X-Tutor-Proxy"] = proxy
            return client.post("/api/ask", json={"question": FLEECE}, headers=headers).status_code

        # Two learners behind the balancer: two questions each.
        assert [ask("198.51.100.7", "the-balancers-secret") for _ in range(3)] == [200, 200, 429]
        assert ask("198.51.100.8", "the-balancers-secret") == 200
        # Straight to the host, each claiming another address: one client, the peer.
        claims = [ask(f"203.0.113.{n}", proxy) for n, proxy in enumerate(("guess", None, ""))]
        assert claims == [200, 200, 429]
