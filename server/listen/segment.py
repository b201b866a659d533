"""Turn-taking: 16 kHz samples -> speech start / end events and the utterance audio.

Silero VAD (the ONNX model that ships inside faster-whisper) scores each 32 ms window,
carrying its recurrent state across frames. Speech starts after `start_ms` of voiced
windows; a pre-roll of audio before that is kept so the first syllable is not lost.
The turn ends after `silence_ms` of silence, or when the utterance reaches `max_ms`
(forced end). Pure state machine: no I/O, no threads; fast (~0.2 ms per window)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Protocol

import numpy as np

WINDOW = 512  # samples at 16 kHz = 32 ms, what Silero v5/v6 expects
CONTEXT = 64
WINDOW_MS = 32


@lru_cache(maxsize=1)
def _session():  # type: ignore[no-untyped-def]
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(
        os.path.join(get_assets_path(), "silero_vad_v6.onnx"),
        providers=["CPUExecutionProvider"],
        sess_options=opts,
    )


class SileroStream:
    """Streaming Silero: feed any number of samples, get one probability per window."""

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)

    def feed(self, samples: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(window samples, speech probability) for each complete window."""
        self._pending = np.concatenate([self._pending, samples])
        out = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            x = np.concatenate([self._context, window])[None, :]
            prob, self._h, self._c = self._session.run(
                None, {"input": x, "h": self._h, "c": self._c}
            )
            self._context = window[-CONTEXT:]
            out.append((window, float(np.ravel(prob)[0])))
        return out


class VoiceScorer(Protocol):
    """What the segmenter needs of a VAD (SileroStream; a fake in the unit tests)."""

    def feed(self, samples: np.ndarray) -> list[tuple[np.ndarray, float]]: ...


class Event(Enum):
    SPEECH_STARTED = "speech.started"
    SPEECH_ENDED = "speech.ended"
    FORCED_END = "forced_end"


@dataclass
class VadSettings:
    threshold: float = 0.5
    start_ms: int = 96
    silence_ms: int = 500
    preroll_ms: int = 300
    max_ms: int = 15_000


class Segmenter:
    def __init__(self, settings: VadSettings, vad: VoiceScorer | None = None) -> None:
        self.s = settings
        self.vad = vad if vad is not None else SileroStream()
        self.speaking = False
        self._voiced_run = 0
        self._silent_run = 0
        self._preroll: list[np.ndarray] = []
        self._utterance: list[np.ndarray] = []
        self.voiced_ms = 0

    @property
    def silence_ms(self) -> int:
        """Silence so far at the end of the current utterance."""
        return self._silent_run * WINDOW_MS

    @property
    def utterance_ms(self) -> int:
        return len(self._utterance) * WINDOW_MS

    def utterance(self, trim_silence: bool = True) -> np.ndarray:
        windows = self._utterance
        if trim_silence and self._silent_run:
            # Keep 160 ms of the trailing silence: Whisper ends words more cleanly.
            keep = max(0, len(windows) - self._silent_run + 5)
            windows = windows[:keep]
        return np.concatenate(windows) if windows else np.zeros(0, np.float32)

    def feed(self, samples: np.ndarray) -> list[tuple[Event, np.ndarray | None]]:
        """Events in order; an ended utterance travels with its event, since a new one
        may start within the same call."""
        events: list[tuple[Event, np.ndarray | None]] = []
        for window, prob in self.vad.feed(samples):
            voiced = prob >= self.s.threshold
            if not self.speaking:
                self._preroll.append(window)
                max_pre = max(1, self.s.preroll_ms // WINDOW_MS)
                self._preroll = self._preroll[-max_pre:]
                self._voiced_run = self._voiced_run + 1 if voiced else 0
                if self._voiced_run * WINDOW_MS >= self.s.start_ms:
                    self.speaking = True
                    self._utterance = list(self._preroll)
                    self._preroll = []
                    self._silent_run = 0
                    self.voiced_ms = self._voiced_run * WINDOW_MS
                    events.append((Event.SPEECH_STARTED, None))
                continue
            self._utterance.append(window)
            if voiced:
                self._silent_run = 0
                self.voiced_ms += WINDOW_MS
            else:
                self._silent_run += 1
            if self._silent_run * WINDOW_MS >= self.s.silence_ms:
                events.append((Event.SPEECH_ENDED, self.utterance()))
                self._end()
            elif self.utterance_ms >= self.s.max_ms:
                events.append((Event.FORCED_END, self.utterance()))
                self._end()
        return events

    def keep_last(self, ms: int) -> None:
        """Start the utterance afresh `ms` back (the echo check found the learner's voice
        in what began as the tutor's own: what came before it was not theirs)."""
        keep = max(1, ms // WINDOW_MS)
        self._utterance = self._utterance[-keep:]
        self.voiced_ms = min(self.voiced_ms, len(self._utterance) * WINDOW_MS)

    def end_now(self) -> np.ndarray:
        """End the turn here (the end-of-turn detector heard a finished question before
        the silence timer ran out): the utterance, as the timer would have given it."""
        utterance = self.utterance()
        self._end()
        return utterance

    def _end(self) -> None:
        self.speaking = False
        self._voiced_run = 0
        self._utterance = []
        self._silent_run = 0
