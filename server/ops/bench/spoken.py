"""`tutor eval FILE --spoken VOICE`: the question file said aloud, heard, then answered.

Each question is spoken by Piper (the tutor's own natural voice) or espeak-ng (robotic: the
hard case for Whisper), resampled to the 16 kHz the voice socket takes, and transcribed as
a learner's final utterance is: with the articles' vocabulary as Whisper's prompt, decoded
again without it when the transcript holds words that are neither the articles' nor
English (see `listen/transcribe.py`). The transcripts then go through the same scoring as
typed questions, so a spoken score is comparable with the typed one on the same file."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

from server.core.errors import TutorError
from server.engines import Synthesizer, Transcriber

STT_RATE = 16_000
VOICES = ("piper", "espeak")


def speak(text: str, voice: str, piper: Synthesizer | None) -> np.ndarray:
    """The text said by one of VOICES, as float32 samples at 16 kHz."""
    if voice == "piper":
        assert piper is not None
        pcm = np.frombuffer(b"".join(piper.synthesize(text)), dtype=np.int16)
        rate = piper.sample_rate
    else:
        if shutil.which("espeak-ng") is None:
            raise TutorError("espeak-ng is not installed (make test installs it)", code="usage")
        wav = subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "160", "--stdout", text],
            check=True,
            capture_output=True,
        ).stdout
        with wave.open(io.BytesIO(wav), "rb") as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    audio = pcm.astype(np.float32) / 32768
    return soxr.resample(audio, rate, STT_RATE).astype(np.float32)


def hear(audio: np.ndarray, stt: Transcriber, prompt: str, strange: Callable[[str], int]) -> str:
    """As the listener hears a final utterance (prompted; unprompted when led astray)."""
    text = stt.transcribe(audio, prompt or None)
    if prompt and (odd := strange(text)):
        plain = stt.transcribe(audio, None)
        return plain if strange(plain) < odd else text
    return text


def spoken_items(
    items: list[dict[str, Any]],
    voice: str,
    stt: Transcriber,
    piper: Synthesizer | None,
    prompt: str,
    strange: Callable[[str], int],
    progress: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """The items with each question replaced by what was heard (the text said is kept
    as "said")."""
    out = []
    for item in items:
        heard = hear(speak(item["q"], voice, piper), stt, prompt, strange)
        out.append({**item, "q": heard.strip() or "(nothing heard)", "said": item["q"]})
        if progress:
            progress()
    return out


def misheard(items: list[dict[str, Any]]) -> int:
    """How many transcripts differ from what was said (words only)."""

    def plain(text: str) -> str:
        return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("’", "'")))

    return sum(1 for i in items if plain(i["q"]) != plain(i["said"]))
