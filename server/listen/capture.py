"""Microphone bytes -> 16 kHz float32 samples.

In: binary websocket frames of PCM s16le mono at the rate the client announced (8-48 kHz),
of any size. Out: float32 samples at 16 kHz, ready for VAD and Whisper. Resampling is
soxr's streaming resampler (well kept, high quality, keeps state across frames so frame
edges make no clicks).

Audio is admitted at most at real-time pace plus a short burst (`Pacer`): a microphone
cannot speak faster than real time, and a client that sends faster (measured: 256 KB
frames in a tight loop, ~130x real time) would otherwise fill the speech model's queue
and the memory of the server for every other learner. The excess is dropped."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import soxr

from server.core.errors import TutorError
from server.engines import STT_RATE


class AudioError(TutorError):
    code = "bad_audio"


# Real time plus a little (a browser's worklet and the network deliver in bursts), and
# two seconds of audio that may arrive at once after a stall.
PACE = 1.1
BURST_SECONDS = 2.0


class Pacer:
    """A token bucket in seconds of audio: `admit(seconds)` is False past real-time pace
    plus the burst. `report()` says whether to tell the client now (once a second at
    most, so a flood of frames is not answered with a flood of errors)."""

    def __init__(
        self,
        pace: float = PACE,
        burst: float = BURST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pace = pace
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.updated = clock()
        self.dropped_seconds = 0.0
        self._reported = float("-inf")

    def admit(self, seconds: float) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.pace)
        self.updated = now
        if seconds <= self.tokens + 1e-9:  # float sums of 20 ms frames fall a hair short
            self.tokens = max(0.0, self.tokens - seconds)
            return True
        self.dropped_seconds += seconds
        return False

    def report(self) -> bool:
        now = self.clock()
        if now - self._reported >= 1.0:
            self._reported = now
            return True
        return False


class AudioInput:
    def __init__(self, sample_rate: int, max_frame_bytes: int, pacer: Pacer | None = None) -> None:
        self.sample_rate = sample_rate
        self.max_frame_bytes = max_frame_bytes
        self.pacer = pacer or Pacer()
        self._resampler = (
            None
            if sample_rate == STT_RATE
            else soxr.ResampleStream(sample_rate, STT_RATE, 1, dtype="float32", quality="HQ")
        )

    def admit(self, frame: bytes) -> bool:
        """Whether this frame fits the real-time pace; a dropped frame past the first in
        a second is dropped silently, the first raises `audio_too_fast`."""
        if self.pacer.admit(len(frame) / 2 / self.sample_rate):
            return True
        if self.pacer.report():
            raise AudioError(
                "audio arrives faster than real time; the excess is dropped "
                f"({self.pacer.dropped_seconds:.0f} s so far)",
                code="audio_too_fast",
            )
        return False

    def convert(self, frame: bytes) -> np.ndarray:
        if not frame:
            raise AudioError("empty audio frame", code="empty_audio")
        if len(frame) % 2:
            raise AudioError(
                f"audio frame of {len(frame)} bytes: PCM s16le needs an even number of bytes"
            )
        if len(frame) > self.max_frame_bytes:
            raise AudioError(
                f"audio frame of {len(frame)} bytes is over the {self.max_frame_bytes}-byte "
                "limit; send smaller frames",
                code="too_large",
            )
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return samples
