"""Property-based: whatever a client sends, the server answers with a typed error or
ignores it, never crashes, and still answers a real question afterwards."""

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.config import Settings
from server.engines import Engines
from server.web.app import create_app

KNOWN_EVENTS = {
    "ready",
    "speech.started",
    "speech.stopped",
    "transcript.partial",
    "transcript.final",
    "answer.delta",
    "answer.done",
    "audio.start",
    "audio.end",
    "interrupted",
    "turn.metrics",
    "pong",
    "error",
    "quiz.question",
    "quiz.result",
}
TYPES = [
    "hello",
    "text",
    "interrupt",
    "playback",
    "lesson.context",
    "ping",
    "quiz.ask",
    "nope",
    "",
    "TEXT",
]


def audio(kind: str, n: int) -> bytes:
    rng = np.random.default_rng(n)
    if kind == "noise":
        samples = rng.normal(0, 8000, n)
    elif kind == "clipping":
        samples = np.sign(rng.normal(0, 1, n)) * 32767
    else:
        samples = np.zeros(n)
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
messages = st.one_of(
    st.binary(max_size=3000).map(lambda b: ("bytes", b)),
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.builds(
        lambda t, extra: ("text", json.dumps({"type": t, **extra})),
        st.sampled_from(TYPES),
        st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "turn_id",
                    "played_ms",
                    "sample_rate",
                    "session_id",
                    "lesson_id",
                    "segment",
                    "speak",
                    "question",
                ]
            ),
            json_values,
            max_size=4,
        ),
    ),
    st.builds(
        lambda k, n: ("bytes", audio(k, n)),
        st.sampled_from(["noise", "clipping", "silence"]),
        st.integers(1, 16000),
    ),
    st.sampled_from(
        [
            ("text", "x" * 300_000),
            ("bytes", b"\x00" * 300_001),
            ("text", "[" * 5000),
            ("text", '{"type": "text", "text": "' + "a" * 3000 + '"}'),
        ]
    ),
)


def answered_in_kind(ws) -> None:  # type: ignore[no-untyped-def]
    """Ping, then read to the pong: every event on the way is a known one, and every
    error typed (a code and a message)."""
    ws.send_json({"type": "ping"})
    while True:
        message = ws.receive()
        if message.get("bytes") is not None:
            continue
        event = json.loads(message["text"])
        assert event["type"] in KNOWN_EVENTS, event
        if event["type"] == "error":
            assert isinstance(event["code"], str) and event["message"]
        if event["type"] == "pong":
            return


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, engines: Engines) -> Iterator[TestClient]:
    s = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        question_rate_limit="1000/minute",
        build_lessons=False,
        allowed_hosts=["testserver"],
    )
    with TestClient(create_app(s, engines)) as c:
        yield c


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(messages, min_size=1, max_size=5), socket=st.sampled_from(["voice", "chat"]))
def test_random_messages_never_break_a_session(client: TestClient, batch, socket: str) -> None:
    with client.websocket_connect(f"/ws/{socket}") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"
        for kind, payload in batch:
            if kind == "bytes":
                ws.send_bytes(payload)
            else:
                ws.send_text(payload)
        ws.send_json({"type": "interrupt"})
        answered_in_kind(ws)


def test_a_real_question_is_answered_after_the_fuzzing(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        ws.receive_json()
        ws.send_json({"type": "text", "text": "How was Llama 4 received?"})
        while (event := ws.receive_json())["type"] != "answer.done":
            pass
        assert event["grounded"] and "lukewarm" in event["text"]


def random_message(rng: "np.random.Generator") -> tuple[str, bytes | str]:
    """One message of the kinds above, drawn from a seeded generator (hypothesis cannot
    draw 10,000-message lists within its data budget)."""
    kind = rng.integers(0, 6)
    if kind == 0:
        return "bytes", rng.bytes(int(rng.integers(0, 3000)))
    if kind == 1:
        return "text", "".join(chr(int(c)) for c in rng.integers(32, 0x2FF, rng.integers(0, 80)))
    if kind == 2:
        fields = ["text", "turn_id", "played_ms", "sample_rate", "session_id", "lesson_id"]
        values = [None, True, -1, 10**20, 1.5, "", "x" * 50, [], {"a": 1}]
        extra = {
            str(rng.choice(fields)): values[int(rng.integers(0, len(values)))]
            for _ in range(int(rng.integers(0, 4)))
        }
        return "text", json.dumps({"type": str(rng.choice(TYPES)), **extra})
    if kind == 3:
        return "bytes", audio(
            str(rng.choice(["noise", "clipping", "silence"])), int(rng.integers(1, 4000))
        )
    if kind == 4:
        return "bytes", rng.bytes(int(rng.integers(1, 4)) * 2 + 1)  # odd-sized PCM
    return "text", str(rng.choice(["[" * 500, "{}", "null", '{"type": 5}', "x" * 300_000]))


@pytest.mark.slow
def test_ten_thousand_messages_across_both_sockets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The issue's budget: 10,000 hostile messages over a voice and a chat socket (fake
    engines: the pipeline around the models is under test), then a real question."""
    from tests.fakes import fake_engines

    s = Settings(
        data_dir=tmp_path / "data",
        question_rate_limit="100000/minute",
        build_lessons=False,
        allowed_hosts=["testserver"],
    )
    rng = np.random.default_rng(2026)
    with TestClient(create_app(s, fake_engines())) as c:
        for socket in ("voice", "chat"):
            with c.websocket_connect(f"/ws/{socket}") as ws:
                ws.send_json({"type": "hello"})
                assert ws.receive_json()["type"] == "ready"
                for _ in range(5000):
                    kind, payload = random_message(rng)
                    if kind == "bytes":
                        ws.send_bytes(payload)  # type: ignore[arg-type]
                    else:
                        ws.send_text(payload)  # type: ignore[arg-type]
                answered_in_kind(ws)
        with c.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "hello"})
            ws.receive_json()
            ws.send_json({"type": "text", "text": "What is Avocado?"})
            while (event := ws.receive_json())["type"] != "answer.done":
                pass
            assert event["grounded"]
