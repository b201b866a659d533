"""Speech to text in-process: faster-whisper (CTranslate2), int8 on the CPU."""

from __future__ import annotations

import hashlib
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from server.engines.interfaces import STT_RATE, model_address

ENCODED_KEPT = 8  # utterances whose encoder output is kept for a second decoding


class WhisperTranscriber:
    """faster-whisper (CTranslate2), int8 on the CPU. Greedy decoding: beam search costs
    ~2x the time for no gain on short questions.

    The encoder sees a window sized to the utterance, not Whisper's 30 s: faster-whisper
    always pads the log-mel features to 3,000 frames (its `chunk_length` shortens only the
    feature extraction), and encoding those was ~90% of a short question's transcription
    time. The features are cut back to `encoder_window` seconds here.
    Whisper was trained on 30 s windows, and windows of only the utterance + 1-4 s lost
    words and looped ("expected to launch expected to launch ..."); from 10-12 s on, the
    spoken fixtures' WER was as good as the full window's (12 s: Piper 0.13 vs 0.16,
    espeak-ng 0.55 vs 0.58, with the articles' prompt) at about a third of the time (13
    clips: 15.6 s -> 4.3 s on 2 busy cores); under 12 s the prompt stopped fixing "met as"
    into "Meta's". A token budget for the utterance's length stops any loop early."""

    kind = "in-process"

    def __init__(self, path: Path, name: str, threads: int) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

        self.name = name
        self.address = model_address(path)
        self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        self.english_only = name.endswith(".en") or not self.model.model.is_multilingual
        self._tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._suppressed = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self._storage = get_ctranslate2_storage
        # The encoder outputs of the latest utterances (`_encode`), oldest first.
        self._encoded: dict[tuple[int, int, bytes], np.ndarray] = {}
        self._lock = threading.Lock()  # one pass at a time (the worker's thread)

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        return self.transcribe_batch([audio], prompt)[0]

    def transcribe_batch(
        self, audios: list[np.ndarray], prompt: str | None = None, *, again: bool = False
    ) -> list[str]:
        """Several utterances in one pass of the model, with the same prompt: what
        faster-whisper's `transcribe` does for one utterance of under 30 s without
        timestamps (one window, greedy, its default suppressed tokens and its no-speech
        test), but for a batch: learners who stop talking together wait for one pass,
        not one after another. On 2 cores (tiny.en, the Piper fixtures): 2 utterances
        1.21x, 4 1.41x and 8 1.51x as fast as one at a time. `again`: these utterances
        were just transcribed (with another prompt): their encoder outputs are reused."""
        if not audios:
            return []
        longest = max(len(a) for a in audios)
        frames = 100 * encoder_window(longest)
        tokenizer = self._tokenizer
        previous = tokenizer.encode(" " + prompt.strip()) if prompt and prompt.strip() else []
        tokens = self.model.get_prompt(tokenizer, previous, without_timestamps=True)
        # Speech is 2-4 tokens a second; past this the decoder is looping.
        max_new = int(16 + 8 * longest / STT_RATE)
        with self._lock:
            encoded = self._encode(audios, frames, again)
            results = self.model.model.generate(
                encoded,
                [tokens] * len(audios),
                beam_size=1,
                max_length=len(tokens) + max_new,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppressed,
                max_initial_timestamp_index=50,
            )
        texts = []
        for result in results:
            ids = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
            # Whisper's own test for a window with no speech in it (noise, breath): high
            # no-speech probability and low confidence. Such text is a hallucination.
            silent = result.no_speech_prob > 0.6 and avg_logprob < -1.0
            texts.append("" if silent else tokenizer.decode(ids).strip())
        return texts

    def _encode(self, audios: list[np.ndarray], frames: int, again: bool) -> Any:
        """The encoder's output for each utterance; `again`: from the latest outputs kept
        where they are there. A final transcript that reads strangely is decoded again
        without the prompt (`Listener._transcribe`), and that second pass needs only the
        decoder (the encoder is about half of a short question's transcription)."""
        keys = [
            (frames, len(a), hashlib.blake2b(a.tobytes(), digest_size=16).digest()) for a in audios
        ]
        missing = [i for i, key in enumerate(keys) if not again or key not in self._encoded]
        if missing:
            features = np.stack([self._features(audios[i], frames) for i in missing])
            fresh = np.asarray(self.model.model.encode(self._storage(features)))
            for row, i in enumerate(missing):
                self._encoded[keys[i]] = fresh[row]
                while len(self._encoded) > ENCODED_KEPT:
                    self._encoded.pop(next(iter(self._encoded)))
        rows = np.stack([self._encoded[key] for key in keys])
        return self._storage(rows)

    @staticmethod
    def batch_key(audio: np.ndarray) -> int:
        """Utterances whose encoder windows match share a pass (`transcribe_batch` pads
        every one of them to the longest one's window)."""
        return encoder_window(len(audio))

    def _features(self, audio: np.ndarray, frames: int) -> np.ndarray:
        """Log-mel features padded (or cut) to `frames`, as faster-whisper pads them."""
        mel = self.model.feature_extractor(audio.astype(np.float32, copy=False))[:, :-1]
        if mel.shape[-1] >= frames:
            return mel[:, :frames]
        return np.pad(mel, ((0, 0), (0, frames - mel.shape[-1])))


def encoder_window(samples: int) -> int:
    """The encoder's window in seconds for an utterance: its length and a second, never
    under 12 s (see WhisperTranscriber) nor over Whisper's 30 s."""
    return min(30, max(12, math.ceil(samples / STT_RATE) + 1))
