"""What the pipeline asks of a model engine, and the priorities its work is queued at.

- Transcriber: 16 kHz float32 mono audio (+ an optional vocabulary prompt) -> text.
- Responder:   chat messages -> a stream of text pieces.
- Synthesizer: text -> PCM s16le mono chunks at `sample_rate`.

Every call is blocking: a worker (`worker.py`) runs it on its own thread. An engine may
also say how it is reached, for /healthz: `kind` ("in-process", "openai", "wyoming"),
`address` (a model file or a URL) and `parallel` (calls it can serve at once; 1 when
missing); a Transcriber that ignores the vocabulary prompt says `takes_prompt = False`.
These are optional so that a test's fake needs only the call itself.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

STT_RATE = 16_000


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str: ...


class Responder(Protocol):
    name: str

    def stream(
        self, messages: list[dict[str, str]], max_tokens: int, cancel: threading.Event
    ) -> Iterator[str]: ...


class Synthesizer(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        """`length_scale`: the speaking pace, relative to the voice's own (1.5: each sound
        half as long again, so slower; 0.8: faster); see `speaking_pace`."""
        ...


# Queue priorities: what a learner is waiting for right now goes first.
URGENT = 0  # a final transcript, the first audio of a reply
NORMAL = 1  # the rest of a reply, answers
LATER = 2  # partial transcripts
BACKGROUND = 3  # lesson building


# The speaking pace a learner may choose, as Piper's length_scale relative to the voice's
# own: half to twice as long per sound. Bounded so a bad value cannot make a reply last
# minutes or turn it into a blur.
MIN_LENGTH_SCALE = 0.5
MAX_LENGTH_SCALE = 2.0


def speaking_pace(length_scale: float) -> float:
    """A pace kept within the usable range (a NaN or an infinity means the default)."""
    if not math.isfinite(length_scale):
        return 1.0
    return min(MAX_LENGTH_SCALE, max(MIN_LENGTH_SCALE, length_scale))


def model_address(path: Path) -> str:
    """How /healthz names a model file: its folder and name, not the whole path (/healthz
    answers without the token, and the file system's layout is nobody's business)."""
    return "/".join(path.parts[-2:])
