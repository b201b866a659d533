"""Regenerate the spoken-question fixtures (run once; the WAVs are committed).

Each sentence is spoken by Piper (the joe voice, natural) and by espeak-ng (robotic, the
hard case for Whisper), then converted with sox to 16 kHz mono s16le WAV, the rate the
voice socket takes. Also writes 2 s of silence and of white noise, and a question with a
one-second thinking pause in the middle (for the end-of-turn detector).

    .venv/bin/python tests/data/make_fixtures.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
SENTENCES = {
    "chief_officer": "Who is Meta's Chief AI Officer?",
    "avocado_launch": "When is Avocado expected to launch?",
    "llama4": "How was Llama 4 received?",
    "fallback": "Which open models are suggested as a fallback to Llama?",
    "stability": "What happened to Stability AI?",
    "capital": "What is the capital of Australia?",
}
PCM_16K = ["-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"]
# A learner thinking mid-question: the first half ends on a filler, then 1 s of silence.
PAUSED = ("paused", ["When is Avocado, um,", "expected to launch?"], 1.0)


def to_16k(src: Path, dst: Path) -> None:
    subprocess.run(
        ["sox", str(src), *PCM_16K, str(dst)],
        check=True,
    )


def main() -> None:
    import sys

    sys.path.insert(0, str(HERE.parent.parent))
    from piper import PiperVoice

    from server.core.catalog import resolve

    voice = PiperVoice.load(str(resolve("tts", "joe-medium", HERE / "cache")))
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, text in SENTENCES.items():
            raw = Path(tmp) / f"{key}-piper.wav"
            with wave.open(str(raw), "wb") as w:
                voice.synthesize_wav(text, w)
            to_16k(raw, HERE / f"{key}.piper.wav")
            raw = Path(tmp) / f"{key}-espeak.wav"
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), text], check=True
            )
            to_16k(raw, HERE / f"{key}.espeak.wav")
            manifest += [
                {"file": f"{key}.piper.wav", "text": text, "voice": "piper"},
                {"file": f"{key}.espeak.wav", "text": text, "voice": "espeak-ng"},
            ]
        key, halves, pause = PAUSED
        parts = []
        for n, text in enumerate(halves):
            raw = Path(tmp) / f"{key}-{n}.wav"
            with wave.open(str(raw), "wb") as w:
                voice.synthesize_wav(text, w)
            parts.append(raw)
        gap = Path(tmp) / "gap.wav"
        subprocess.run(["sox", "-n", *PCM_16K, str(gap), "trim", "0", str(pause)], check=True)
        joined = Path(tmp) / f"{key}-joined.wav"
        for n, part in enumerate(parts):
            to_16k(part, Path(tmp) / f"{key}-{n}-16k.wav")
        subprocess.run(
            [
                "sox",
                str(Path(tmp) / f"{key}-0-16k.wav"),
                str(gap),
                str(Path(tmp) / f"{key}-1-16k.wav"),
                str(joined),
            ],
            check=True,
        )
        to_16k(joined, HERE / f"{key}.piper.wav")
    # Two seconds of digital silence and of white noise, for the no-speech cases.
    for name, effect in (
        ("silence.wav", ["trim", "0", "2"]),
        ("noise.wav", ["synth", "2", "whitenoise", "vol", "0.3"]),
    ):
        subprocess.run(["sox", "-n", *PCM_16K, str(HERE / name), *effect], check=True)
    (HERE / "fixtures.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
