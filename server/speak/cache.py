"""The first words of likely replies, synthesised while the tutor is idle.

A spoken reply's first audio waits for the synthesis of its first words (`head_phrase`:
2-4 words; Piper takes 35-60 ms for them on 2 cores alone, ~0.09 s at the end of a
learner's turn, when the speech model and the end-of-turn model share the cores). An
answer from the articles starts with their own words, and there are only so many ways
it can start (`Answerer.openings`: each sentence, a long one also from each clause, and
the decline): about two per sentence. So when no learner is speaking, the voice says the
first words of each opening once, at the lowest priority and one at a time, and keeps
the audio; a reply that starts with one sends it at once.

Measured on the bundled and development articles (277 questions): the first words of 88%
of the answers were prepared. The rest (an LLM's answer, a command's reply) are
synthesised as before, and kept too, so an answer asked again starts at once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from server.engines import BACKGROUND, ModelWorker
from server.reason.text import sentences
from server.speak.transmit import head_phrase

log = logging.getLogger(__name__)
IDLE_POLL_S = 0.05
# Prepared only after this long with no learner speaking: a learner who stops for a
# moment mid-question may go on.
IDLE_GRACE_S = 0.3


class SpeechCache:
    """Synthesised audio by (text, pace), least recently used first out, at most
    `limit_bytes` of it (s16 PCM at the voice's rate: ~67 KB for a head of the default
    voice, ~10 MB for the openings of the two bundled articles)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.size = 0
        self._audio: OrderedDict[tuple[str, float], bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._audio)

    def has(self, text: str, pace: float) -> bool:
        return _key(text, pace) in self._audio

    def room(self, size: int) -> bool:
        """Whether `size` more bytes fit without putting anything out."""
        return self.size + size <= self.limit_bytes

    def get(self, text: str, pace: float) -> bytes | None:
        key = _key(text, pace)
        pcm = self._audio.get(key)
        if pcm is not None:
            self._audio.move_to_end(key)
        return pcm

    def put(self, text: str, pace: float, pcm: bytes) -> None:
        if len(pcm) > self.limit_bytes:
            return
        key = _key(text, pace)
        old = self._audio.pop(key, None)
        self.size += len(pcm) - (len(old) if old is not None else 0)
        self._audio[key] = pcm
        while self.size > self.limit_bytes:
            _, dropped = self._audio.popitem(last=False)
            self.size -= len(dropped)


def _key(text: str, pace: float) -> tuple[str, float]:
    return text, round(pace, 3)  # a pace read back from a profile may differ in the last digits


def first_piece(text: str) -> str:
    """What a reply starting with `text` synthesises first (`Speaker.say`)."""
    first = next(iter(sentences(text)), "")
    return head_phrase(first)[0] if first else ""


async def prepare(
    cache: SpeechCache,
    tts: ModelWorker,
    openings: Iterable[str],
    someone_speaking: Callable[[], bool],
    pace: float = 1.0,
) -> int:
    """Synthesise the first piece of each opening not kept yet, one at a time at the
    lowest priority, and only after no learner has spoken for IDLE_GRACE_S; stops when
    the cache is full (the openings come in the articles' order). Returns how many were
    kept."""
    made, start, quiet = 0, time.perf_counter(), _Quiet(someone_speaking)
    pieces = list(dict.fromkeys(p for text in openings if (p := first_piece(text))))
    engine = tts.engine
    for piece in pieces:
        if cache.has(piece, pace):
            continue
        await quiet.wait()
        try:
            pcm = await tts.call(
                lambda piece=piece: b"".join(engine.synthesize(piece, pace)), priority=BACKGROUND
            )
        except Exception as exc:  # noqa: BLE001 - that opening is said as it comes
            log.info("preparing %r failed: %s", piece, exc)
            continue
        if not cache.room(len(pcm)):  # what is kept stays: the rest is said as it comes
            log.info("speech cache full (%d pieces): no more openings prepared", len(cache))
            break
        cache.put(piece, pace, pcm)
        made += 1
    log.info(
        "first words of %d replies prepared (%d new) in %.1f s, %.1f MB",
        len(pieces),
        made,
        time.perf_counter() - start,
        cache.size / 1e6,
    )
    return made


class _Quiet:
    """Waits until no learner has spoken for IDLE_GRACE_S (at once if none has)."""

    def __init__(self, someone_speaking: Callable[[], bool]) -> None:
        self.someone_speaking = someone_speaking
        self.since: float | None = float("-inf")

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self.someone_speaking():
                self.since = None
            elif self.since is None:
                self.since = now
            if self.since is not None and now - self.since >= IDLE_GRACE_S:
                return
            await asyncio.sleep(IDLE_POLL_S)
