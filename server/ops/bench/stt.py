"""Speech-to-text benchmark: word error rate and real-time factor of each Whisper model in
the catalog on the spoken fixtures (Piper and espeak-ng voices), with and without the
articles' vocabulary as Whisper's prompt."""

from __future__ import annotations

import json
import re
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
from rich.progress import Progress

from server.core.config import Settings
from server.engines import WhisperTranscriber

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "data"


@dataclass
class SttResult:
    model: str
    prompted: bool
    voice: str
    wer: float
    rtf: float
    audio_seconds: float


def normalize(text: str) -> str:
    text = text.lower().replace("’", "'").replace("'s", "")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", " ", text)).strip()


def load_fixtures() -> list[tuple[np.ndarray, str, str]]:
    out = []
    for item in json.loads((FIXTURES / "fixtures.json").read_text()):
        with wave.open(str(FIXTURES / item["file"]), "rb") as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        out.append((pcm.astype(np.float32) / 32768, item["text"], item["voice"]))
    return out


def run(settings: Settings, models: list[str], prompt: str) -> list[SttResult]:
    from server.core import catalog

    fixtures = load_fixtures()
    results: list[SttResult] = []
    with Progress() as progress:
        task = progress.add_task("Transcribing", total=len(models) * 2 * len(fixtures))
        for name in models:
            path = catalog.resolve("stt", name, settings.cache_dir)
            engine = WhisperTranscriber(path, name, settings.threads)
            engine.transcribe(fixtures[0][0])  # warm-up
            for prompted in (False, True):
                by_voice: dict[str, tuple[list[str], list[str], float, float]] = {}
                for audio, text, voice in fixtures:
                    start = time.perf_counter()
                    heard = engine.transcribe(audio, prompt if prompted else None)
                    spent = time.perf_counter() - start
                    refs, hyps, secs, audio_s = by_voice.get(voice, ([], [], 0.0, 0.0))
                    by_voice[voice] = (
                        refs + [normalize(text)],
                        hyps + [normalize(heard)],
                        secs + spent,
                        audio_s + len(audio) / 16000,
                    )
                    progress.advance(task)
                for voice, (refs, hyps, secs, audio_s) in by_voice.items():
                    results.append(
                        SttResult(
                            name, prompted, voice, jiwer.wer(refs, hyps), secs / audio_s, audio_s
                        )
                    )
    return results
