"""Fair intake: audio at most at real-time pace per session, one speech-model job in flight
per session, so one client flooding audio slows only itself."""

from __future__ import annotations

import threading
import time

import numpy as np
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.listen.capture import AudioInput, Pacer
from server.web.app import create_app
from tests.fakes import FakeTranscriber, fake_engines
from tests.test_voice import collect, hello, stream, utterance


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pacer_admits_real_time_and_drops_the_excess() -> None:
    clock = Clock()
    pacer = Pacer(pace=1.0, burst=2.0, clock=clock)
    assert pacer.admit(2.0)  # the burst
    assert not pacer.admit(0.02)  # nothing left until time passes
    clock.now = 1.0
    assert pacer.admit(0.5) and pacer.admit(0.5) and not pacer.admit(0.5)
    assert abs(pacer.dropped_seconds - 0.52) < 1e-9  # the two frames dropped
    # A microphone at real-time pace is never dropped.
    for _ in range(500):
        clock.now += 0.02
        assert pacer.admit(0.02)


def test_a_flood_gets_one_error_a_second_not_one_per_frame() -> None:
    clock = Clock()
    audio = AudioInput(16_000, 256_000, Pacer(clock=clock))
    frame = np.zeros(128_000, "<i2").tobytes()  # 8 s of audio in one frame
    errors = 0
    for _ in range(50):
        try:
            assert not audio.admit(frame)
        except Exception as exc:  # noqa: BLE001 - counted below
            assert getattr(exc, "code", "") == "audio_too_fast"
            errors += 1
        clock.now += 0.01
    assert errors == 1


class SlowTranscriber(FakeTranscriber):
    """A speech model that takes its time, so a flood would queue behind it."""

    def __init__(self) -> None:
        super().__init__("What is Avocado?")
        self.calls = 0

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        self.calls += 1
        time.sleep(0.15)
        return self.text


def test_a_flooder_slows_only_itself(settings: Settings) -> None:
    engines = fake_engines()
    stt = SlowTranscriber()
    engines.transcriber = engines.stt.engine = stt
    speech = utterance("chief_officer.piper.wav", before_s=0.2, after_s=0.8)
    flood_frame = (speech * 8)[: settings.max_message_bytes]
    flooder_errors: list[str] = []

    with TestClient(create_app(settings, engines)) as c:
        with c.websocket_connect("/ws/voice") as flooder, c.websocket_connect("/ws/voice") as ws:
            hello(flooder)
            hello(ws)

            def flood() -> None:
                for _ in range(120):  # bounded: about 30 MB, ~16 minutes of audio
                    flooder.send_bytes(flood_frame)

            def drain() -> None:
                while True:
                    message = flooder.receive()
                    if message.get("text") and '"audio_too_fast"' in message["text"]:
                        flooder_errors.append(message["text"])
                        return

            threads = [threading.Thread(target=flood), threading.Thread(target=drain)]
            for t in threads:
                t.start()
            stream(ws, utterance("avocado_launch.piper.wav"))
            events, _ = collect(ws, "answer.done")
            for t in threads:
                t.join(timeout=60)
    kinds = [e["type"] for e in events]
    assert "transcript.final" in kinds and events[-1]["grounded"]
    assert flooder_errors, "the flooder is told its audio is dropped"
    # Sixteen minutes of flooded speech became a handful of transcriptions, not hundreds.
    assert stt.calls < 20, stt.calls
