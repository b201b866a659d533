"""Speaking one answer: verified sentences in, PCM frames out to the client.

Each sentence is synthesised as soon as it arrives (on the TTS worker) while the LLM
writes the next one, then sent as binary frames of `frame_ms` between `audio.start` and
`audio.end`. The speaker keeps a timeline (which sentence covers which milliseconds), so
a barge-in can tell what the learner actually heard."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.core import protocol as p
from server.core.errors import EngineError
from server.engines import NORMAL, URGENT, ModelWorker
from server.reason.text import sentences

SendEvent = Callable[[p.ServerEvent], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]


@dataclass
class Spoken:
    text: str
    start_ms: float
    duration_ms: float


CLAUSE = re.compile(r"(?<=[,;:—–])\s+")
# Words a phrase may start with: a sentence with no clause break early on is cut before
# one of them ("Meta was building a new model | with its superintelligence lab").
PHRASE_START = frozenset(
    "and but or which that who because after before while with without to for in on at "
    "by as from into than since until".split()
)


def first_clause(
    sentence: str, min_words: int = 4, max_words: int = 8, max_clause: int = 10
) -> tuple[str, str]:
    """Split a long sentence so the first audio comes sooner: after its first clause
    ("Reports surfaced that ..., | led by ...") when it ends within `max_clause` words,
    else before a phrase within `max_words`. Piper's time grows with the text, and the
    first piece is what the learner waits for (with four talkers, first pieces queue for
    the same voice); the rest is synthesised while the head plays. Short sentences stay
    whole."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence, ""
    parts = CLAUSE.split(sentence)
    head = ""
    for i, part in enumerate(parts):
        head = f"{head} {part}".strip()
        if len(head.split()) >= min_words:
            if len(head.split()) <= max_clause and i + 1 < len(parts):
                return head, " ".join(parts[i + 1 :])
            break
    for i in range(max_words, min_words - 1, -1):  # the longest head that ends a phrase
        if words[i].lower().strip('“"(') in PHRASE_START and len(words) - i >= 3:
            return " ".join(words[:i]), " ".join(words[i:])
    return sentence, ""


class Speaker:
    def __init__(
        self,
        tts: ModelWorker,
        turn_id: str,
        send_event: SendEvent,
        send_bytes: SendBytes,
        frame_ms: int = 100,
        length_scale: float = 1.0,
    ) -> None:
        self.tts = tts
        self.turn_id = turn_id
        self.send_event = send_event
        self.send_bytes = send_bytes
        self.rate: int = tts.engine.sample_rate
        self.frame_bytes = 2 * self.rate * frame_ms // 1000
        self.length_scale = length_scale  # the learner's speaking pace (Piper's)
        self.timeline: list[Spoken] = []
        self.sent_ms = 0.0
        self.first_audio_at: float | None = None
        self.synth_seconds: list[float] = []
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._said_any = False
        self._task: asyncio.Task | None = None
        # A voice server that failed (EngineError) ends the reply's audio; the turn then
        # tells the learner (`failed` is checked after `wait`).
        self.failed: EngineError | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def say(self, text: str) -> None:
        for sentence in sentences(text):
            if not self._said_any:
                # The first audio waits for the first piece's synthesis: speak a long
                # first sentence in two parts, cut at a clause boundary.
                head, tail = first_clause(sentence)
                self._queue.put_nowait(head)
                if tail:
                    self._queue.put_nowait(tail)
                self._said_any = True
            else:
                self._queue.put_nowait(sentence)

    def finish(self) -> None:
        self._queue.put_nowait(None)

    async def wait(self) -> None:
        if self._task:
            await self._task

    def cancel(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()

    async def _synthesize(self, sentence: str) -> bytes:
        start = time.perf_counter()
        # The first piece is what the learner is waiting for; the rest can queue.
        priority = URGENT if not self.synth_seconds else NORMAL
        pcm = await self.tts.call(
            lambda: b"".join(self.tts.engine.synthesize(sentence, self.length_scale)),
            priority=priority,
        )
        self.synth_seconds.append(time.perf_counter() - start)
        return pcm

    async def _run(self) -> None:
        """Sentences are synthesised in order as they arrive. Sending is not paced: the
        client buffers and plays, so the queue never holds back the next sentence."""
        started = False
        while (sentence := await self._queue.get()) is not None:
            try:
                pcm = await self._synthesize(sentence)
            except EngineError as exc:
                self.failed = exc  # the rest of the reply is not spoken
                break
            if not pcm:
                continue
            if not started:
                await self.send_event(p.AudioStart(turn_id=self.turn_id, sample_rate=self.rate))
                started = True
            duration = 1000 * len(pcm) / 2 / self.rate
            self.timeline.append(Spoken(sentence, self.sent_ms, duration))
            for i in range(0, len(pcm), self.frame_bytes):
                await self.send_bytes(pcm[i : i + self.frame_bytes])
                if self.first_audio_at is None:
                    self.first_audio_at = time.perf_counter()
            self.sent_ms += duration
        if started:
            await self.send_event(p.AudioEnd(turn_id=self.turn_id))

    def heard_text(self, played_ms: float | None, elapsed_ms: float) -> str:
        """The answer as far as the learner heard it: whole sentences up to the playback
        position, and the words of the sentence cut off in proportion."""
        position = min(self.sent_ms, played_ms if played_ms is not None else elapsed_ms)
        heard: list[str] = []
        for spoken in self.timeline:
            if position >= spoken.start_ms + spoken.duration_ms:
                heard.append(spoken.text)
            elif position > spoken.start_ms:
                words = spoken.text.split()
                share = (position - spoken.start_ms) / spoken.duration_ms
                cut = int(len(words) * share)
                if cut:
                    heard.append(" ".join(words[:cut]) + " …")
                break
        return " ".join(heard)
