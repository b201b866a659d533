"""/ws/voice end to end: real models, real spoken fixtures streamed at real-time pace."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from server.core.config import Settings
from server.engines import Engines
from server.web.app import create_app
from tests.conftest import read_wav
from tests.fakes import FakeTranscriber, fake_engines

FRAME = 640  # 20 ms of 16 kHz s16le, what a browser worklet sends


@pytest.fixture
def client(settings: Settings, engines: Engines) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engines)) as c:
        yield c


def utterance(name: str, before_s: float = 0.3, after_s: float = 1.2) -> bytes:
    samples, rate = read_wav(name)
    assert rate == 16_000
    pad = lambda s: np.zeros(int(16_000 * s), np.int16)  # noqa: E731
    return np.concatenate([pad(before_s), samples, pad(after_s)]).astype("<i2").tobytes()


def stream(ws: WebSocketTestSession, audio: bytes, pace: float = 1.0) -> None:
    """Send audio in 20 ms frames at (roughly) real-time pace, like a microphone."""
    start = time.perf_counter()
    for i, offset in enumerate(range(0, len(audio), FRAME)):
        ws.send_bytes(audio[offset : offset + FRAME])
        ahead = (i + 1) * 0.02 / pace - (time.perf_counter() - start)
        if ahead > 0:
            time.sleep(ahead)


def collect(ws: WebSocketTestSession, until: str) -> tuple[list[dict[str, Any]], int]:
    """JSON events (in order) and reply audio bytes, up to and including `until`."""
    events: list[dict[str, Any]] = []
    audio = 0
    while True:
        message = ws.receive()
        if message.get("bytes") is not None:
            audio += len(message["bytes"])
            continue
        events.append(json.loads(message["text"]))
        if events[-1]["type"] == until:
            return events, audio


def hello(ws: WebSocketTestSession, **extra: Any) -> dict[str, Any]:
    ws.send_json({"type": "hello", **extra})
    ready = ws.receive_json()
    assert ready["type"] == "ready"
    return ready


def test_spoken_question_gets_a_spoken_grounded_answer(client: TestClient) -> None:
    with client.websocket_connect("/ws/voice") as ws:
        ready = hello(ws)
        assert ready["input_rate"] == 16_000 and ready["output_rate"] == 22_050
        stream(ws, utterance("avocado_launch.piper.wav"))
        events, audio = collect(ws, "turn.metrics")
    kinds = [e["type"] for e in events]
    # The reply's audio may start before answer.done (which waits for the commit and the
    # follow-up suggestions); it ends after it, and everything follows the transcript.
    for order in (
        ["speech.started", "speech.stopped", "transcript.final", "answer.done", "audio.end"],
        ["transcript.final", "audio.start", "audio.end", "turn.metrics"],
    ):
        positions = [kinds.index(k) for k in order]
        assert positions == sorted(positions), kinds
    final = events[kinds.index("transcript.final")]
    # Whatever this CPU's Whisper heard exactly ("Wannaa is Avocado-expected to launch?"
    # on an AVX2-only AMD), the answer must carry the fact.
    assert final["text"].strip()
    done = events[kinds.index("answer.done")]
    assert done["grounded"] and done["sources"] and "2026" in done["text"]
    assert done["turn_id"] == final["turn_id"]
    # Reply audio of plausible length for the answer: 0.2-0.8 s per word.
    seconds = audio / 2 / 22_050
    words = len(done["text"].split())
    assert 0.2 * words < seconds < 0.8 * words, (seconds, words)
    metrics = events[-1]
    for stage in ("end_of_speech_to_final", "retrieval", "first_audio", "voice_to_voice"):
        assert metrics[stage] > 0
    # A finished question: the end-of-turn model ended the turn after the short pause,
    # not the long wait.
    assert metrics["end_of_turn_p"] >= 0.5


def test_barge_in_stops_the_reply(client: TestClient) -> None:
    with client.websocket_connect("/ws/voice") as ws:
        secret = hello(ws)["session_secret"]
        stream(ws, utterance("llama4.piper.wav", after_s=0.8))
        events, _ = collect(ws, "audio.start")
        turn_id = events[-1]["turn_id"]
        # The learner speaks again while the reply plays.
        talker = threading.Thread(target=stream, args=(ws, utterance("stability.piper.wav")))
        talker.start()
        events, audio_after = collect(ws, "interrupted")
        talker.join()
        assert events[-1]["turn_id"] == turn_id
        # (The reply's audio may all have been sent by now, audio.end too: it is sent
        # faster than it plays. What the learner heard is what the history keeps.)
        ws.send_json({"type": "playback", "turn_id": turn_id, "played_ms": 1200})
        events, _ = collect(ws, "answer.done")
        assert "stability" in " ".join(e.get("text", "") for e in events).lower()
        session = events[-1]["session_id"]
    turns = client.get(f"/api/sessions/{session}", headers={"X-Session-Secret": secret})
    turns = turns.json()["turns"]
    first = next(t for t in turns if t["turn_id"] == turn_id)
    assert first["heard"] is not None and len(first["heard"]) < len(first["answer"])


def test_text_question_on_the_voice_socket(client: TestClient) -> None:
    with client.websocket_connect("/ws/voice") as ws:
        hello(ws)
        ws.send_json(
            {"type": "text", "text": "Which companies keep their best models proprietary?"}
        )
        events, audio = collect(ws, "turn.metrics")
    done = next(e for e in events if e["type"] == "answer.done")
    assert done["grounded"] and done["sources"] and audio > 0


@pytest.mark.parametrize(
    "send,code",
    [
        (lambda ws: ws.send_bytes(b"\x01\x02\x03"), "bad_audio"),
        (lambda ws: ws.send_bytes(b""), "empty_audio"),
        (lambda ws: ws.send_text("this is not json"), "bad_json"),
        (lambda ws: ws.send_json({"type": "dance"}), "unknown_type"),
        (lambda ws: ws.send_json({"type": "text", "text": 42}), "bad_message"),
        (lambda ws: ws.send_bytes(b"\x00" * 300_000), "too_large"),
        (lambda ws: ws.send_text("x" * 300_000), "too_large"),
        (
            lambda ws: ws.send_json({"type": "playback", "turn_id": "nope", "played_ms": 5}),
            "unknown_turn",
        ),
    ],
)
def test_bad_input_gets_a_typed_error_and_the_session_goes_on(
    client: TestClient, send, code: str
) -> None:
    with client.websocket_connect("/ws/voice") as ws:
        hello(ws)
        send(ws)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code, error
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_noise_and_silence_do_not_make_a_turn(client: TestClient) -> None:
    with client.websocket_connect("/ws/voice") as ws:
        hello(ws)
        samples, _ = read_wav("noise.wav")
        stream(ws, samples.astype("<i2").tobytes(), pace=4)
        # 6 s of digital silence, at a microphone's pace (faster is dropped: tests/test_intake.py)
        stream(ws, bytes(16_000 * 2 * 6))
        events = []
        while True:
            events.append(ws.receive_json())
            if events[-1].get("code") == "silent_audio":
                break
        assert not [e for e in events if e["type"] in ("transcript.final", "answer.done")]
        assert all(e.get("code") in (None, "no_speech", "silent_audio") for e in events)
        ws.send_json({"type": "text", "text": "What is Avocado?"})
        events, _ = collect(ws, "answer.done")
        assert events[-1]["grounded"]


def test_resampled_input_is_understood(client: TestClient) -> None:
    import soxr

    samples, _ = read_wav("chief_officer.piper.wav")
    at_48k = soxr.resample(samples.astype(np.float32) / 32768, 16_000, 48_000)
    pcm = (np.clip(at_48k, -1, 1) * 32767).astype("<i2")
    pad = np.zeros(48_000, "<i2")
    with client.websocket_connect("/ws/voice") as ws:
        assert hello(ws, sample_rate=48_000)["input_rate"] == 48_000
        stream(ws, np.concatenate([pad[:14_400], pcm, pad]).tobytes())
        events, _ = collect(ws, "transcript.final")
    assert "officer" in events[-1]["text"].lower()


def test_two_sessions_at_once_both_complete(client: TestClient) -> None:
    results: dict[str, list[dict[str, Any]]] = {}

    def talk(name: str) -> None:
        with client.websocket_connect("/ws/voice") as ws:
            hello(ws)
            stream(ws, utterance(name))
            results[name], _ = collect(ws, "turn.metrics")

    threads = [
        threading.Thread(target=talk, args=(n,))
        for n in ("llama4.piper.wav", "stability.piper.wav")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(results) == {"llama4.piper.wav", "stability.piper.wav"}
    for events in results.values():
        texts = [e.get("text") for e in events]
        assert any(e["type"] == "answer.done" and e["grounded"] for e in events), texts


def test_sessions_past_the_limit_are_refused_busy(settings: Settings, engines: Engines) -> None:
    settings.max_sessions = 1
    with TestClient(create_app(settings, engines)) as client:
        with client.websocket_connect("/ws/voice") as first:
            hello(first)
            with client.websocket_connect("/ws/chat") as second:
                error = second.receive_json()
                assert error == {"type": "error", "code": "busy", "message": error["message"]}
                closed = second.receive()
                assert closed["type"] == "websocket.close" and closed["code"] == 1013
            first.send_json({"type": "ping"})
            assert first.receive_json()["type"] == "pong"


def test_answer_starts_on_the_early_transcript_and_waits_for_the_turn_end(
    settings: Settings, engines: Engines
) -> None:
    # A long silence window makes "the early transcript is ready before the turn ends"
    # certain on any machine (the plain timer: the end-of-turn model would end it sooner).
    settings.turn_detector, settings.vad_silence_ms = "silence", 2000
    with TestClient(create_app(settings, engines)) as client:
        with client.websocket_connect("/ws/voice") as ws:
            hello(ws)
            stream(ws, utterance("llama4.piper.wav", after_s=2.6))
            events, audio = collect(ws, "turn.metrics")
    kinds = [e["type"] for e in events]
    assert kinds.index("transcript.final") < kinds.index("answer.delta")  # held back
    assert events[-1]["speculative"] == 1 and audio > 0
    assert events[-1]["voice_to_voice"] > 0


def test_speaking_again_drops_the_speculative_answer(settings: Settings, engines: Engines) -> None:
    settings.turn_detector, settings.vad_silence_ms = "silence", 2000
    with TestClient(create_app(settings, engines)) as client:
        with client.websocket_connect("/ws/voice") as ws:
            ready = hello(ws)
            session = ready["session_id"]
            # A pause long enough for an early transcript, then more speech: one turn.
            first = utterance("llama4.piper.wav", after_s=1.0)
            second = utterance("stability.piper.wav", before_s=0.0, after_s=2.6)
            stream(ws, first + second)
            events, _ = collect(ws, "turn.metrics")
        turns = client.get(
            f"/api/sessions/{session}", headers={"X-Session-Secret": ready["session_secret"]}
        ).json()["turns"]
    finals = [e for e in events if e["type"] == "transcript.final"]
    assert len(finals) == 1 and "stability" in finals[0]["text"].lower()
    assert [e["type"] for e in events].count("answer.done") == 1
    assert "interrupted" not in [e["type"] for e in events]  # nothing was heard to cut
    assert [t["question"] for t in turns] == [finals[0]["text"]]


class PromptLedAstray(FakeTranscriber):
    """What a robotic voice did to Whisper with the vocabulary prompt, and without it."""

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        self.prompts.append(prompt)
        return (
            "Werenity, Maverick, Expected, Talong,"
            if prompt
            else "when is avocado expected to lunch"
        )


def test_a_misheard_transcript_is_decoded_again_and_still_answered(settings: Settings) -> None:
    engines = fake_engines(reply="Not a verified sentence.")
    stt = PromptLedAstray()
    engines.transcriber = engines.stt.engine = stt
    with TestClient(create_app(settings, engines)) as c, c.websocket_connect("/ws/voice") as ws:
        hello(ws)
        stream(ws, utterance("avocado_launch.piper.wav"))
        events, _ = collect(ws, "answer.done")
    final = next(e for e in events if e["type"] == "transcript.final")
    assert final["text"] == "when is avocado expected to lunch"  # the plainer decoding won
    assert None in stt.prompts and any(stt.prompts)
    done = events[-1]
    assert done["grounded"] and "2026" in done["text"]


def test_a_thinking_pause_does_not_cut_the_question(client: TestClient) -> None:
    """'When is Avocado, um,' - one second of silence - 'expected to launch?': the
    end-of-turn model hears the first half as unfinished, so the turn waits."""
    with client.websocket_connect("/ws/voice") as ws:
        hello(ws)
        stream(ws, utterance("paused.piper.wav", after_s=2.6))
        events, _ = collect(ws, "answer.done")
    finals = [e for e in events if e["type"] == "transcript.final"]
    assert len(finals) == 1, finals
    # Both halves in one transcript (the first alone is 3-4 words), whatever this CPU's
    # Whisper spells; and the answer carries the fact asked for.
    assert len(finals[0]["text"].split()) >= 5, finals
    assert events[-1]["grounded"] and "2026" in events[-1]["text"]


def test_hello_speak_false_holds_for_spoken_questions(settings: Settings) -> None:
    """hello {speak: false} on /ws/voice: a spoken question is heard and answered in text,
    with no reply audio (the early answer, started before the turn ended, too)."""
    with (
        TestClient(create_app(settings, fake_engines())) as c,
        c.websocket_connect("/ws/voice") as ws,
    ):
        hello(ws, speak=False)
        stream(ws, utterance("avocado_launch.piper.wav"))
        events, audio = collect(ws, "turn.metrics")
    kinds = [e["type"] for e in events]
    assert kinds.index("transcript.final") < kinds.index("answer.done"), kinds
    assert audio == 0 and "audio.start" not in kinds and "error" not in kinds
