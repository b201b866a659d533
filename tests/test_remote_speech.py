"""TUTOR_STT_URL / TUTOR_TTS_URL: speech through real Wyoming servers (wyoming-faster-whisper
and wyoming-piper serving the packaged model and voice, one pair per module, on free
loopback ports), and what a turn does when a server is down, silent, hangs up or comes
back: a typed error to the learner, never a hang, and the next turn works.

Whisper's exact words vary by CPU, so transcripts are checked for the key word only."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.core.errors import EngineError
from server.engines import Engines
from server.engines.wyoming_stt import WyomingTranscriber
from server.engines.wyoming_tts import WyomingSynthesizer
from server.ops.bench.wyoming import Server, fixture, speech_servers
from server.ops.cliutil import free_port
from server.session.services import open_engine
from server.web.app import create_app
from tests.fakes import FakeResponder, FakeSynthesizer, FakeTranscriber
from tests.test_voice import collect, hello, stream, utterance

SENTENCE = "Avocado is expected to launch in the first quarter of 2026."


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("wyoming-data"), threads=2)
    with speech_servers(settings, tmp_path_factory.mktemp("wyoming")) as both:
        yield both


@pytest.fixture
def stt_server(servers: tuple[Server, Server]) -> Server:
    return servers[0]


@pytest.fixture
def tts_server(servers: tuple[Server, Server]) -> Server:
    return servers[1]


def remote_settings(tmp_path: Path, **urls: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        threads=2,
        build_lessons=False,
        allowed_hosts=["testserver"],
        **urls,
    )


def test_a_spoken_question_is_transcribed_by_the_server(stt_server: Server, tmp_path: Path) -> None:
    stt = open_engine("stt", remote_settings(tmp_path, stt_url=stt_server.url))
    assert isinstance(stt, WyomingTranscriber) and stt.address == stt_server.url
    text = stt.transcribe(fixture("avocado_launch.piper.wav"), "a prompt it cannot send")
    assert "avocado" in text.lower(), text
    assert stt.failures.last is None and stt.describe()["reachable"]


def test_speech_from_the_server_is_heard_back(
    tts_server: Server, engines: Engines, tmp_path: Path
) -> None:
    """The server's voice at the rate it announced, understood by the in-process Whisper."""
    tts = open_engine("tts", remote_settings(tmp_path, tts_url=tts_server.url))
    assert isinstance(tts, WyomingSynthesizer) and tts.sample_rate == 22_050
    chunks = list(tts.synthesize(SENTENCE, length_scale=1.3))  # the pace is not applied
    assert len(chunks) > 1  # as the server sent them, not one block
    pcm = np.frombuffer(b"".join(chunks), np.int16)
    seconds = len(pcm) / tts.sample_rate
    assert 0.15 * len(SENTENCE.split()) < seconds < 0.8 * len(SENTENCE.split()), seconds
    heard = engines.transcriber.transcribe(soxr.resample(pcm / 32768, 22_050, 16_000))
    assert "avocado" in heard.lower(), heard


def test_a_server_that_is_not_listening_fails_at_once_with_a_typed_error() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    stt = WyomingTranscriber(url, "tiny.en", timeout_s=30, parallel=1)
    with pytest.raises(EngineError) as raised:
        stt.transcribe(fixture())
    assert raised.value.code == "stt_unreachable"
    tts = WyomingSynthesizer(url, "joe-medium", timeout_s=30, parallel=1)
    assert tts.sample_rate == 22_050  # what the tutor tells clients until the server answers
    with pytest.raises(EngineError) as raised:
        list(tts.synthesize(SENTENCE))
    assert raised.value.code == "tts_unreachable"
    for engine in (stt, tts):
        state = engine.describe()
        assert not state["reachable"] and state["last_error"].endswith("_unreachable")


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A server that reads the request's first line, then closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_server_that_hangs_up_mid_request_is_a_failed_call(hangs_up: str) -> None:
    stt = WyomingTranscriber(hangs_up, "tiny.en", timeout_s=30, parallel=1)
    with pytest.raises(EngineError) as raised:
        stt.transcribe(fixture())
    assert raised.value.code == "stt_failed"
    tts = WyomingSynthesizer(hangs_up, "joe-medium", timeout_s=30, parallel=1)
    with pytest.raises(EngineError) as raised:
        list(tts.synthesize(SENTENCE))
    assert raised.value.code == "tts_failed"


def test_a_stalled_server_times_out_and_answers_again_when_it_resumes(
    servers: tuple[Server, Server],
) -> None:
    """The real servers frozen (SIGSTOP): the kernel still accepts the connection and the
    audio, nothing answers, and the call ends at its timeout; resumed, they serve again."""
    (stt_server, tts_server) = servers
    stt = WyomingTranscriber(stt_server.url, "tiny.en", timeout_s=1, parallel=1)
    tts = WyomingSynthesizer(tts_server.url, "joe-medium", timeout_s=1, parallel=1)
    for server in servers:
        os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(EngineError) as raised:
            stt.transcribe(fixture())
        assert raised.value.code == "stt_timeout"
        with pytest.raises(EngineError) as raised:
            list(tts.synthesize(SENTENCE))
        assert raised.value.code == "tts_timeout"
    finally:
        for server in servers:
            os.kill(server.proc.pid, signal.SIGCONT)
    stt.timeout_s = tts.timeout_s = 30
    assert "avocado" in stt.transcribe(fixture()).lower()
    assert stt.failures.last is None and list(tts.synthesize(SENTENCE))


def voice_engines(settings: Settings) -> Engines:
    """The speech engines the settings name, and a scripted LLM whose answer never
    verifies, so every answer is the extractive one (what the test checks is speech)."""
    stt = open_engine("stt", settings) if settings.stt_url else FakeTranscriber()
    tts = open_engine("tts", settings) if settings.tts_url else FakeSynthesizer()
    return Engines(stt, FakeResponder("Not a verified sentence."), tts)


def test_a_voice_turn_through_both_servers(servers: tuple[Server, Server], tmp_path: Path) -> None:
    stt_server, tts_server = servers
    settings = remote_settings(tmp_path, stt_url=stt_server.url, tts_url=tts_server.url)
    engines = voice_engines(settings)
    with TestClient(create_app(settings, engines)) as client:
        models = client.get("/healthz").json()["models"]
        with client.websocket_connect("/ws/voice") as ws:
            assert hello(ws)["output_rate"] == 22_050
            stream(ws, utterance("avocado_launch.piper.wav"))
            events, audio = collect(ws, "turn.metrics")
    for role, server in (("stt", stt_server), ("tts", tts_server)):
        assert models[role]["kind"] == "wyoming" and models[role]["address"] == server.url
        assert models[role]["reachable"] is True
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, events
    assert "avocado" in events[kinds.index("transcript.final")]["text"].lower()
    done = events[kinds.index("answer.done")]
    assert done["grounded"] and "2026" in done["text"]
    assert kinds.index("audio.start") < kinds.index("audio.end") and audio > 22_050  # > 0.5 s


def test_a_speech_server_down_costs_the_turn_not_the_session(
    stt_server: Server, tmp_path: Path
) -> None:
    """STT server killed: the spoken turn gets `error stt_unreachable`, /healthz says so;
    restarted, the next turn in the same session is heard. A voice server that is down:
    the answer is shown, then `error tts_unreachable`."""
    down = f"tcp://127.0.0.1:{free_port()}"
    settings = remote_settings(tmp_path, stt_url=stt_server.url, tts_url=down)
    with TestClient(create_app(settings, voice_engines(settings))) as client:
        with client.websocket_connect("/ws/voice") as ws:
            hello(ws)
            stt_server.stop()
            try:
                stream(ws, utterance("avocado_launch.piper.wav"))
                events, _ = collect(ws, "error")
                assert events[-1]["code"] == "stt_unreachable", events
                assert "transcript.final" not in [e["type"] for e in events]
                state = client.get("/healthz").json()["models"]
                assert state["stt"]["reachable"] is False
                assert state["stt"]["last_error"] == "stt_unreachable"
            finally:
                stt_server.restart()
            stream(ws, utterance("avocado_launch.piper.wav"))
            events, _ = collect(ws, "error")  # heard and answered, but not spoken
    kinds = [e["type"] for e in events]
    assert "avocado" in events[kinds.index("transcript.final")]["text"].lower()
    assert events[kinds.index("answer.done")]["grounded"]
    assert events[-1]["code"] == "tts_unreachable" and "audio.start" not in kinds


def test_addresses_are_checked_and_never_resolved_through_the_catalog(tmp_path: Path) -> None:
    config = Settings(
        data_dir=tmp_path,
        stt_url="tcp://stt-box:10300/",
        tts_url="tcp://[::1]:10200",
        stt_model="large-v3",  # what that server serves: not a catalog entry
        tts_voice="en_GB-alba-medium",
    )
    assert (config.stt_url, config.tts_url) == ("tcp://stt-box:10300", "tcp://[::1]:10200")
    paths = config.check()
    assert paths.stt is None and paths.tts is None
    for bad in ("stt-box:10300", "http://stt-box:10300", "tcp://stt-box", "tcp://a:1/x"):
        with pytest.raises(ValueError, match="stt_url"):
            Settings(stt_url=bad)
    with pytest.raises(ValueError, match="tts_url"):
        Settings(tts_url="tcp://user:pw@box:10200")
