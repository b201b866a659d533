"""The tutor's own voice coming back: is the speech the microphone hears the reply itself?

In: every reply audio frame the server sends (PCM s16le at the voice's rate), and, when
speech starts while a reply may be playing, the first ~0.4 s of it. Out: how closely that
audio matches some stretch of what was sent (normalised cross-correlation, 0..1).

Played through speakers, a reply leaks into the microphone; browsers' echo cancellers do
not remove Web Audio playback (Chrome's cancels only WebRTC peer audio), and a reply that
hears itself interrupts itself. The server knows exactly what it sent, so it compares:
the reply, delayed and quieter, correlates strongly with itself (0.9+ through a digital
path); a learner's own words do not (measured ~0.1 for another question over the reply).
The check runs at speech start, so a real barge-in still stops the reply at once, and
again on each new stretch while an utterance is taken for echo, so a learner who starts
talking over the echo is heard."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import soxr

RATE = 16_000
ECHO = 0.5  # similarity above which speech is taken for the reply itself


class EchoReference:
    def __init__(self, seconds: float = 30.0) -> None:
        self.seconds = seconds
        # Kept as sent; resampled (whole, stateless) only when speech during a reply asks,
        # which is rare and leaves no resampler state behind.
        self._chunks: deque[tuple[float, np.ndarray]] = deque()
        self._rate = RATE

    def add(self, pcm: bytes, rate: int, at: float | None = None) -> None:
        """A reply frame as sent (kept `seconds`)."""
        if len(pcm) < 2:
            return
        if rate != self._rate:
            self._chunks.clear()  # another voice: earlier audio is another reply
            self._rate = rate
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        now = time.perf_counter() if at is None else at
        self._chunks.append((now, samples))
        while self._chunks and now - self._chunks[0][0] > self.seconds:
            self._chunks.popleft()

    def clear(self) -> None:
        self._chunks.clear()

    def _reference(self) -> np.ndarray:
        pcm = np.concatenate([c for _, c in self._chunks]).astype(np.float32) / 32768
        return pcm if self._rate == RATE else soxr.resample(pcm, self._rate, RATE, quality="HQ")

    def similarity(self, mic: np.ndarray) -> float:
        """The highest normalised cross-correlation of `mic` with any stretch of the
        recent reply audio (FFT, a few milliseconds for 30 s of reference)."""
        if not self._chunks or len(mic) < RATE // 20:
            return 0.0
        m = mic.astype(np.float64) - float(np.mean(mic))
        # Silence before the first reply sample, so the start of a reply can match too
        # (the microphone may hold a little of what came before it).
        ref = np.concatenate([np.zeros(len(m) // 2), self._reference()])
        if len(ref) < len(m):
            return 0.0
        norm_m = float(np.sqrt(np.sum(m * m)))
        if norm_m < 1e-6:
            return 0.0
        n = len(ref) + len(m) - 1
        size = 1 << (n - 1).bit_length()
        corr = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(m, size)), size)
        corr = corr[: len(ref) - len(m) + 1]  # m aligned at each start inside ref
        # Energy (and mean) of every window of ref as long as m, by cumulative sums.
        c1 = np.concatenate([[0.0], np.cumsum(ref)])
        c2 = np.concatenate([[0.0], np.cumsum(ref.astype(np.float64) ** 2)])
        sums = c1[len(m) :] - c1[: -len(m)]
        energy = c2[len(m) :] - c2[: -len(m)] - sums * sums / len(m)
        ncc = corr / (norm_m * np.sqrt(np.maximum(energy, 1e-9)))
        ncc[energy < 1e-6 * len(m)] = 0.0  # silence in the reply matches nothing
        return float(np.clip(ncc.max(), 0.0, 1.0))

    def is_echo(self, mic: np.ndarray) -> bool:
        return self.similarity(mic) >= ECHO
