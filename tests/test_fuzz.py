"""Property-based: whatever a client sends, the server answers with a typed error or
ignores it, never crashes, and still answers a real question afterwards."""

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import create_app
from server.config import Settings
from server.engines import Engines

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
                break


def test_a_real_question_is_answered_after_the_fuzzing(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        ws.receive_json()
        ws.send_json({"type": "text", "text": "How was Llama 4 received?"})
        while (event := ws.receive_json())["type"] != "answer.done":
            pass
        assert event["grounded"] and "lukewarm" in event["text"]
