"""What listening tells the session, as typed events (in the order they happen).

    SpeechStarted ─▶ Partial* ─▶ Early? ─▶ SpeechStopped ─▶ Heard
    ListenError at any time (a muted microphone, a transcription that failed)

These are listening's own facts, not the socket protocol: the session decides what each
means (a barge-in, a speculative answer, a turn) and what the client is told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SpeechStarted:
    """The learner started speaking (speech heard during a reply that is the reply
    itself, coming back from the speakers, is not reported)."""


@dataclass(frozen=True)
class SpeechStopped:
    """The learner's turn ended; the final transcript follows as `Heard`."""


@dataclass(frozen=True)
class Partial:
    """A transcript of the utterance so far, while the learner speaks."""

    text: str


@dataclass(frozen=True)
class Early:
    """The final transcript is ready, but the turn has not ended yet (the learner is
    silent and may go on): an answer may start now and be held back until `Heard`."""

    text: str


@dataclass
class Heard:
    """A finished utterance: its transcript and when the learner stopped speaking."""

    text: str
    speech_end: float  # perf_counter time of the last voiced window
    timings: dict[str, float] = field(default_factory=dict)
    forced: bool = False  # cut at the longest utterance, not ended by the learner


@dataclass(frozen=True)
class ListenError:
    code: str
    message: str


ListenEvent = SpeechStarted | SpeechStopped | Partial | Early | Heard | ListenError
Emit = Callable[[ListenEvent], Awaitable[None]]
