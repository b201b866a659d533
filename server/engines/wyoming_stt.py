"""Speech to text from a Wyoming server (`TUTOR_STT_URL=tcp://host:port`, or
`unix:///path` for a socket on this machine), such as wyoming-faster-whisper serving the
same packaged Whisper model.

In: 16 kHz float32 mono audio. Out: the transcript. One call is one connection:

    Transcribe(language) ─▶ AudioStart ─▶ AudioChunk* (16 kHz s16le mono) ─▶ AudioStop
                                                          ◀─ Transcript(text)

The vocabulary prompt is not sent: the Wyoming protocol's Transcribe carries no prompt
(1.10 has `transcript_names` / `transcript_terms` for biasing, which wyoming-faster-whisper
3.8 ignores), and the server's `--initial-prompt` is one fixed prompt for every request.
So `takes_prompt` is False, and the Listener neither builds a prompt nor decodes a turn a
second time without one. The server also decodes with its own options (the full 30 s
window, no token budget, no no-speech filter): see docs/deploying.md.

Blocking (the worker's threads run it); the whole call ends within `timeout_s`, and a
server that is down, slow or hangs up raises EngineError with a code from below, which the
Listener sends to the client as `error {code}`; the session and the next turn go on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop

from server.engines import wyoming_link as link
from server.engines.failures import Failures
from server.engines.interfaces import STT_RATE

CHUNK_SAMPLES = STT_RATE // 10  # 100 ms of audio per AudioChunk event


class WyomingTranscriber:
    """A Transcriber whose model runs in a Wyoming server at `url`. `name`: the model the
    server serves (TUTOR_STT_MODEL, shown by /healthz); `parallel`: calls in flight at once
    (its worker's slots)."""

    kind = "wyoming"
    takes_prompt = False

    def __init__(
        self, url: str, name: str, timeout_s: float, parallel: int, language: str = "en"
    ) -> None:
        link.address(url)  # a bad address fails here, not at the first turn
        self.name = name
        self.address = url
        self.timeout_s = timeout_s
        self.parallel = parallel
        self.language = language
        self.failures = Failures("stt", f"speech-to-text server {url}")

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        step = 2 * CHUNK_SAMPLES
        fmt: dict[str, Any] = {"rate": STT_RATE, "width": 2, "channels": 1}
        try:
            with link.Exchange(self.address, self.timeout_s) as exchange:
                exchange.send(
                    Transcribe(language=self.language),
                    AudioStart(**fmt),
                    *(AudioChunk(audio=pcm[i : i + step], **fmt) for i in range(0, len(pcm), step)),
                    AudioStop(),
                )
                while not Transcript.is_type((event := exchange.receive()).type):
                    pass
            text = Transcript.from_event(event).text.strip()
        except link.Unreachable as exc:
            raise self.failures.error("stt_unreachable", exc) from exc
        except link.TimedOut as exc:
            raise self.failures.error("stt_timeout", exc) from exc
        except link.Broken as exc:
            raise self.failures.error("stt_failed", exc) from exc
        self.failures.cleared()
        return text

    def describe(self) -> dict[str, Any]:
        """For /healthz: whether the server answers now, and the last failure."""
        return self.failures.report(link.probe(self.address))
