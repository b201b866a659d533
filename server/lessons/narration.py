"""Narration audio: segment text in, an audio file on disk out, cached by text and voice.

Files live in `<data>/cache/narration/<key>.<ext>`, where the key is a hash of the voice
name and the text, so an unchanged segment is never rendered twice (a rebuilt lesson
reuses its old audio) and a new voice renders afresh. Piper's PCM is encoded to
Ogg/Opus with PyAV (FFmpeg's libopus; PyAV already ships with faster-whisper), about a
tenth of the WAV size; without libopus the file is a plain WAV."""

from __future__ import annotations

import hashlib
import io
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

OPUS_RATE = 24_000  # Opus takes 8/12/16/24/48 kHz; 24 kHz keeps all of Piper's 22.05 kHz
OPUS_BITRATE = 32_000  # speech, mono: clear at 32 kb/s


@dataclass(frozen=True)
class Audio:
    path: Path
    duration_s: float
    media_type: str


def key(text: str, voice: str) -> str:
    return hashlib.sha256(f"{voice}\n{text}".encode()).hexdigest()[:32]


def _has_opus() -> bool:
    try:
        import av

        av.codec.Codec("libopus", "w")
        return True
    except Exception:  # noqa: BLE001 - any failure means: no encoder, write WAV
        return False


HAS_OPUS = _has_opus()
SUFFIX = ".ogg" if HAS_OPUS else ".wav"
MEDIA_TYPE = "audio/ogg" if HAS_OPUS else "audio/wav"


def encode(pcm: bytes, rate: int) -> bytes:
    """PCM s16le mono -> Ogg/Opus bytes (or WAV bytes without libopus)."""
    buffer = io.BytesIO()
    if not HAS_OPUS:
        with wave.open(buffer, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
        return buffer.getvalue()
    import av

    samples = np.frombuffer(pcm, dtype=np.int16).reshape(1, -1)
    with av.open(buffer, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=OPUS_RATE, layout="mono")
        stream.bit_rate = OPUS_BITRATE
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def decoded_seconds(path: Path) -> float:
    """Length of an audio file, by decoding it (tests use this to check the cache)."""
    if path.suffix == ".wav":
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    import av

    samples, rate = 0, 1
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples += frame.samples
            rate = frame.sample_rate
    return samples / rate


class NarrationCache:
    """The folder of rendered segments. Durations are kept next to each file (in its
    name's sidecar), so listing a lesson never decodes audio."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, text: str, voice: str) -> Path:
        return self.folder / f"{key(text, voice)}{SUFFIX}"

    def get(self, text: str, voice: str) -> Audio | None:
        path = self.path(text, voice)
        meta = path.with_suffix(".duration")
        if not (path.exists() and meta.exists()):
            return None
        return Audio(path, float(meta.read_text()), MEDIA_TYPE)

    def put(self, text: str, voice: str, pcm: bytes, rate: int) -> Audio:
        """Encode and store atomically (write, then rename): a reader never sees half."""
        path = self.path(text, voice)
        duration = len(pcm) / 2 / rate
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # each writer its own
        tmp.write_bytes(encode(pcm, rate))
        tmp.replace(path)
        path.with_suffix(".duration").write_text(f"{duration:.3f}")
        return Audio(path, duration, MEDIA_TYPE)
