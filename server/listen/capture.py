"""Microphone bytes -> 16 kHz float32 samples.

In: binary websocket frames of PCM s16le mono at the rate the client announced (8-48 kHz),
of any size. Out: float32 samples at 16 kHz, ready for VAD and Whisper. Resampling is
soxr's streaming resampler (well kept, high quality, keeps state across frames so frame
edges make no clicks)."""

from __future__ import annotations

import numpy as np
import soxr

from server.engines import STT_RATE
from server.errors import TutorError


class AudioError(TutorError):
    code = "bad_audio"


class AudioInput:
    def __init__(self, sample_rate: int, max_frame_bytes: int) -> None:
        self.sample_rate = sample_rate
        self.max_frame_bytes = max_frame_bytes
        self._resampler = (
            None
            if sample_rate == STT_RATE
            else soxr.ResampleStream(sample_rate, STT_RATE, 1, dtype="float32", quality="HQ")
        )

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
