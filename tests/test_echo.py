"""The tutor's own voice from the learner's speakers: heard back through the microphone
it must not interrupt the reply or start a turn; a real question over it still does."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pytest
import soxr
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.engines import Engines
from server.listen.echo import EchoReference
from server.web.app import create_app
from tests.conftest import read_wav
from tests.test_voice import FRAME, hello, stream, utterance


def fixture(name: str) -> np.ndarray:
    samples, _ = read_wav(name)
    return samples.astype(np.float32) / 32768


def test_the_reply_heard_back_matches_and_a_question_does_not() -> None:
    reply = fixture("fallback.piper.wav")
    ref = EchoReference()
    pcm = (reply * 32767).astype("<i2").tobytes()
    for i in range(0, len(pcm), 4096):
        ref.add(pcm[i : i + 4096], 16_000)
    rng = np.random.default_rng(0)
    for delay in (0.15, 0.5, 1.2):  # quieter (-10 dB), later, with a little room noise
        start = int(16_000 * delay)
        heard = reply[start : start + 6400] * 0.316 + rng.normal(0, 0.003, 6400)
        assert ref.is_echo(heard), delay
    for other in ("stability.piper.wav", "chief_officer.espeak.wav", "noise.wav"):
        assert not ref.is_echo(fixture(other)[2000:8400]), other


def test_nothing_sent_nothing_matched() -> None:
    assert EchoReference().similarity(fixture("stability.piper.wav")) == 0.0


class Loopback:
    """A learner's laptop: the reply plays as it arrives, and the microphone hears it
    150 ms later at -10 dB, plus (optionally) the learner asking something over it."""

    def __init__(self, ws: Any, over: np.ndarray | None = None, over_at: float = 1.0) -> None:
        self.ws = ws
        self.over = over
        self.over_at = over_at
        self.events: list[dict[str, Any]] = []
        self.reply = bytearray()
        self.started = threading.Event()
        self.ended = threading.Event()

    def receive_until(self, until: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.ws.receive()
            if message.get("bytes") is not None:
                self.reply.extend(message["bytes"])
                continue
            event = json.loads(message["text"])
            self.events.append(event)
            if event["type"] == "audio.start":
                self.started.set()
            if event["type"] in ("audio.end", "interrupted"):
                self.ended.set()
            if event["type"] == until:
                return
        raise AssertionError(f"no {until}: {[e['type'] for e in self.events]}")

    def microphone(self) -> None:
        """Streams what the microphone hears, at real-time pace, until the reply ends."""
        self.started.wait(120)
        time.sleep(0.15)  # the acoustic path and the browser's buffers
        played = 0  # samples of the reply at 16 kHz sent back so far
        start = time.perf_counter()
        converter = soxr.ResampleStream(22_050, 16_000, 1, dtype="float32")
        pending = np.zeros(0, np.float32)
        taken = 0
        over = self.over if self.over is not None else np.zeros(0, np.float32)
        over_from = int(16_000 * self.over_at)
        while True:
            if taken < len(self.reply):
                chunk = bytes(self.reply[taken : len(self.reply) // 2 * 2])
                taken += len(chunk)
                pcm = np.frombuffer(chunk, "<i2").astype(np.float32) / 32768
                pending = np.concatenate([pending, converter.resample_chunk(pcm)])
            if len(pending) < FRAME // 2:
                if self.ended.is_set() and taken >= len(self.reply):
                    break
                time.sleep(0.005)
                continue
            frame, pending = pending[: FRAME // 2] * 0.316, pending[FRAME // 2 :]
            at = played - over_from
            if 0 <= at < len(over):
                piece = over[at : at + len(frame)]
                frame[: len(piece)] += piece
            self.ws.send_bytes(np.clip(frame * 32767, -32768, 32767).astype("<i2").tobytes())
            played += len(frame)
            ahead = played / 16_000 - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
        # Then a second of room silence, as a microphone goes on sending.
        stream(self.ws, np.zeros(16_000, "<i2").tobytes())


@pytest.fixture
def client(settings: Settings, engines: Engines):  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings, engines)) as c:
        yield c


def test_the_reply_heard_back_does_not_interrupt_it(client: TestClient) -> None:
    with client.websocket_connect("/ws/voice") as ws:
        hello(ws)
        stream(ws, utterance("avocado_launch.piper.wav"))
        loop = Loopback(ws)
        mic = threading.Thread(target=loop.microphone)
        mic.start()
        loop.receive_until("turn.metrics")
        mic.join(timeout=120)
        ws.send_json({"type": "ping"})
        loop.receive_until("pong")
    kinds = [e["type"] for e in loop.events]
    after = kinds[kinds.index("audio.start") :]  # while the reply plays, and after it
    assert "interrupted" not in after, kinds
    assert "speech.started" not in after and "transcript.final" not in after, kinds


def test_a_question_over_the_echo_still_interrupts_and_is_answered(client: TestClient) -> None:
    question = fixture("stability.piper.wav")
    with client.websocket_connect("/ws/voice") as ws:
        hello(ws)
        stream(ws, utterance("fallback.piper.wav"))
        loop = Loopback(ws, over=question, over_at=0.8)
        mic = threading.Thread(target=loop.microphone)
        mic.start()
        loop.receive_until("interrupted")
        loop.receive_until("answer.done")
        mic.join(timeout=120)
    kinds = [e["type"] for e in loop.events]
    cut = kinds.index("interrupted")
    # The question over the echo became a turn of its own and was answered (what
    # Whisper makes of speech mixed with the echo differs by CPU, so no words asserted).
    assert "transcript.final" in kinds[cut:] and kinds[-1] == "answer.done", kinds
    final = next(e for e in loop.events[cut:] if e["type"] == "transcript.final")
    assert final["text"].strip()
