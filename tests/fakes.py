"""Fakes of our own engine interfaces (never of someone else's library), for fast tests of
the pipeline around the models."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from server.engines import Engines


class FakeTranscriber:
    name = "fake-stt"

    def __init__(self, text: str = "What is Avocado?") -> None:
        self.text = text
        self.prompts: list[str | None] = []

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        self.prompts.append(prompt)
        return self.text


class FakeResponder:
    """Replies with a scripted text, a word at a time; records the messages it was sent."""

    name = "fake-llm"

    def __init__(self, reply: str = "Avocado is a frontier model.", delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.calls: list[list[dict[str, str]]] = []

    def stream(
        self, messages: list[dict[str, str]], max_tokens: int, cancel: threading.Event
    ) -> Iterator[str]:
        self.calls.append(messages)
        words = self.reply.split(" ")
        for i, word in enumerate(words[:max_tokens]):
            if cancel.is_set():
                return
            if self.delay:
                time.sleep(self.delay)
            yield word if i == 0 else " " + word


class FakeSynthesizer:
    """A 220 Hz tone, 60 ms per character: enough to test framing and durations."""

    name = "fake-tts"
    sample_rate = 22_050

    def synthesize(self, text: str) -> Iterator[bytes]:
        n = int(self.sample_rate * 0.06 * max(1, len(text)))
        t = np.arange(n) / self.sample_rate
        yield (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16).tobytes()


def fake_engines(
    reply: str = "Avocado is a frontier model.", heard: str = "What is Avocado?", delay: float = 0.0
) -> Engines:
    return Engines(FakeTranscriber(heard), FakeResponder(reply, delay), FakeSynthesizer())
