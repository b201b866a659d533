"""Fakes of our own engine interfaces (never of someone else's library), for fast tests of
the pipeline around the models."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np

from server.engines import Engines, speaking_pace


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


class FakeReader:
    """The LLM reader's engine (`server/engines/reader.py`) by a script: the P(yes) of the
    first `yes` key the prompt's sentence holds, else `default`; logprobs as a model's
    first token would have them ("Yes", "No", and a sliver of " yes"). Records each
    prompt and the thread it ran on; `fail` is raised instead."""

    name = "fake-reader"

    def __init__(
        self,
        yes: dict[str, float] | None = None,
        default: float = 0.1,
        fail: Exception | None = None,
    ) -> None:
        self.yes = yes or {}
        self.default = default
        self.fail = fail
        self.calls: list[list[dict[str, str]]] = []
        self.threads: list[str] = []

    def first_token_logprobs(
        self, messages: list[dict[str, str]], tokens: Sequence[str]
    ) -> dict[str, float]:
        self.calls.append(messages)
        self.threads.append(threading.current_thread().name)
        if self.fail is not None:
            raise self.fail
        sentence = messages[-1]["content"].split("Sentence: ", 1)[1]
        p = next((v for k, v in self.yes.items() if k in sentence), self.default)
        logprobs = {"Yes": math.log(p * 0.9), " yes": math.log(p * 0.1), "No": math.log(1 - p)}
        return {t: lp for t, lp in logprobs.items() if t in tokens}


class FakeSynthesizer:
    """A 220 Hz tone, 60 ms per character at the default pace (`length_scale` stretches it
    as Piper's does): enough to test framing, durations and speaking speed."""

    name = "fake-tts"
    sample_rate = 22_050

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        n = int(self.sample_rate * 0.06 * max(1, len(text)) * speaking_pace(length_scale))
        t = np.arange(n) / self.sample_rate
        yield (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16).tobytes()


def fake_engines(
    reply: str = "Avocado is a frontier model.", heard: str = "What is Avocado?", delay: float = 0.0
) -> Engines:
    return Engines(FakeTranscriber(heard), FakeResponder(reply, delay), FakeSynthesizer())


class FakeVad:
    """A VAD by loudness: a 32 ms window is speech when its RMS is over -30 dBFS. Lets
    the segmenter's state machine be tested on synthetic audio, without Silero."""

    window = 512

    def __init__(self) -> None:
        self._pending = np.zeros(0, np.float32)

    def feed(self, samples: np.ndarray) -> list[tuple[np.ndarray, float]]:
        self._pending = np.concatenate([self._pending, samples.astype(np.float32)])
        out = []
        while len(self._pending) >= self.window:
            window, self._pending = self._pending[: self.window], self._pending[self.window :]
            loud = float(np.sqrt(np.mean(window**2))) > 10 ** (-30 / 20)
            out.append((window, 1.0 if loud else 0.0))
        return out


def tone(ms: int, rate: int = 16_000) -> np.ndarray:
    """Loud enough for FakeVad to call speech."""
    t = np.arange(rate * ms // 1000) / rate
    return (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def quiet(ms: int, rate: int = 16_000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, np.float32)
