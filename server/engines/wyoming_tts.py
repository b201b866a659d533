"""Speech from a Wyoming server (`TUTOR_TTS_URL=tcp://host:port`, or `unix:///path` for a
socket on this machine), such as wyoming-piper serving the same packaged Piper voice.

In: one sentence of text. Out: PCM s16le mono chunks at `sample_rate`, yielded as they
arrive. One call is one connection:

    Synthesize(text) ─▶   ◀─ AudioStart(rate) ◀─ AudioChunk* ◀─ AudioStop

The tutor needs the rate before anything is spoken (`ready.output_rate`, the reply's
`audio.start`), so it is read once at open from the AudioStart of a short synthesis,
which also loads the server's voice before the first learner waits for it. A server that
is down at open leaves the rate at Piper's medium-voice 22,050 Hz (with a warning); audio
that later comes at another rate or format is converted to this one (the wyoming
package's converter), so the rate a session was told always holds.

The learner's speaking pace is not applied: the Synthesize event carries no speed or
length scale (wyoming-piper 2.5 has only a server-wide `--length-scale`), so a remote
voice speaks at its own pace; `length_scale` is accepted and ignored.

Blocking (the worker's threads run it); the whole sentence arrives within `timeout_s`,
or EngineError (codes below) ends the reply's audio and the client gets `error {code}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.tts import Synthesize

from server.engines import wyoming_link as link
from server.engines.failures import Failures

log = logging.getLogger(__name__)
FALLBACK_RATE = 22_050  # Piper's medium voices, the packaged one among them
OPEN_PROBE_S = 10.0  # the first synthesis loads the server's voice (about a second)


class WyomingSynthesizer:
    """A Synthesizer whose voice runs in a Wyoming server at `url`. `name`: the voice it
    serves (TUTOR_TTS_VOICE; it also keys the lesson narration cache); the server's own
    default voice speaks. `parallel`: calls in flight at once (its worker's slots)."""

    kind = "wyoming"

    def __init__(self, url: str, name: str, timeout_s: float, parallel: int) -> None:
        link.address(url)
        self.name = name
        self.address = url
        self.timeout_s = timeout_s
        self.parallel = parallel
        self.failures = Failures("tts", f"text-to-speech server {url}")
        self._told_pace = False
        self.sample_rate = self._served_rate()

    def _served_rate(self) -> int:
        try:
            with link.Exchange(self.address, max(self.timeout_s, OPEN_PROBE_S)) as exchange:
                exchange.send(Synthesize(text="Hello."))
                rate = None
                while not AudioStop.is_type((event := exchange.receive()).type):
                    if AudioStart.is_type(event.type):
                        rate = AudioStart.from_event(event).rate
                if rate is None:
                    raise link.Broken("no AudioStart before AudioStop")
                return rate
        except link.LinkError as exc:
            log.warning(
                "text-to-speech server %s: %s; assuming %d Hz until it answers",
                self.address,
                exc,
                FALLBACK_RATE,
            )
            return FALLBACK_RATE

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        if length_scale != 1.0 and not self._told_pace:
            self._told_pace = True
            log.info("the speaking pace is not applied by a Wyoming voice (see wyoming_tts)")
        converter = AudioChunkConverter(rate=self.sample_rate, width=2, channels=1)
        try:
            with link.Exchange(self.address, self.timeout_s) as exchange:
                exchange.send(Synthesize(text=text))
                while not AudioStop.is_type((event := exchange.receive()).type):
                    if AudioChunk.is_type(event.type):
                        chunk = converter.convert(AudioChunk.from_event(event))
                        if chunk.audio:
                            yield chunk.audio
        except link.Unreachable as exc:
            raise self.failures.error("tts_unreachable", exc) from exc
        except link.TimedOut as exc:
            raise self.failures.error("tts_timeout", exc) from exc
        except link.Broken as exc:
            raise self.failures.error("tts_failed", exc) from exc
        self.failures.cleared()

    def describe(self) -> dict[str, Any]:
        """For /healthz: whether the server answers now, the rate, the last failure."""
        state = link.probe(self.address)
        state["sample_rate"] = self.sample_rate
        return self.failures.report(state)
