"""Speech to text in-process: faster-whisper (CTranslate2), int8 on the CPU."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from server.engines.interfaces import STT_RATE, model_address


class WhisperTranscriber:
    """faster-whisper (CTranslate2), int8 on the CPU. Greedy decoding: beam search costs
    ~2x the time for no gain on short questions.

    The encoder sees a window sized to the utterance, not Whisper's 30 s: faster-whisper
    always pads the log-mel features to 3,000 frames (its `chunk_length` shortens only the
    feature extraction), and encoding those was ~90% of a short question's transcription
    time. `_Whisper.encode` cuts the padded features back to `encoder_window` seconds.
    Whisper was trained on 30 s windows, and windows of only the utterance + 1-4 s lost
    words and looped ("expected to launch expected to launch ..."); from 10-12 s on, the
    spoken fixtures' WER was as good as the full window's (12 s: Piper 0.13 vs 0.16,
    espeak-ng 0.55 vs 0.58, with the articles' prompt) at about a third of the time (13
    clips: 15.6 s -> 4.3 s on 2 busy cores); under 12 s the prompt stopped fixing "met as"
    into "Meta's". A token budget for the utterance's length stops any loop early."""

    kind = "in-process"

    def __init__(self, path: Path, name: str, threads: int) -> None:
        from faster_whisper import WhisperModel

        class _Whisper(WhisperModel):  # type: ignore[misc]
            window_frames = 3000

            def encode(self, features: np.ndarray) -> Any:
                return super().encode(features[..., : self.window_frames])

        self.name = name
        self.address = model_address(path)
        self.model = _Whisper(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        self.english_only = name.endswith(".en") or not self.model.model.is_multilingual
        self._lock = threading.Lock()  # the window is per call: one call at a time

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        seconds = len(audio) / STT_RATE
        with self._lock:
            self.model.window_frames = 100 * encoder_window(len(audio))
            segments, _info = self.model.transcribe(
                audio.astype(np.float32, copy=False),
                language="en",
                beam_size=1,
                temperature=0.0,
                condition_on_previous_text=False,
                initial_prompt=prompt or None,
                vad_filter=False,  # our own VAD already cut the utterance
                without_timestamps=True,
                # Speech is 2-4 tokens a second; past this the decoder is looping.
                max_new_tokens=int(16 + 8 * seconds),
            )
            # Whisper's own test for a segment with no speech in it (noise, breath): high
            # no-speech probability and low confidence. Such segments are hallucinations.
            kept = [
                s.text.strip()
                for s in segments
                if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)
            ]
        return " ".join(t for t in kept if t).strip()


def encoder_window(samples: int) -> int:
    """The encoder's window in seconds for an utterance: its length and a second, never
    under 12 s (see WhisperTranscriber) nor over Whisper's 30 s."""
    return min(30, max(12, math.ceil(samples / STT_RATE) + 1))
