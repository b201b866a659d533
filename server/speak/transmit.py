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
from typing import TYPE_CHECKING

import numpy as np

from server.core import protocol as p
from server.core.errors import EngineError
from server.engines import NORMAL, URGENT, ModelWorker
from server.reason.text import sentences
from server.reason.words import (
    ARTICLES,
    CONJUNCTIONS,
    DEMONSTRATIVES,
    MODALS,
    POSSESSIVES,
    PREPOSITIONS,
    RELATIVES,
    TO_BE,
)

if TYPE_CHECKING:
    from server.speak.cache import SpeechCache

SILENCE_RMS = 32768 * 10 ** (-50 / 20)  # -50 dBFS, in s16 units

SendEvent = Callable[[p.ServerEvent], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]


@dataclass
class Spoken:
    text: str
    start_ms: float
    duration_ms: float


CLAUSE_END = re.compile(r"[,;:—–]$")
# Words a phrase may start with: a sentence is cut before one of them when no clause
# ends early ("Avocado was expected | to launch in the spring"). Function words of
# English, not of any article: conjunctions, relative words, prepositions, and the
# auxiliaries a predicate starts with ("The Chief AI Officer | is Alexandr Wang").
PHRASE_START = (
    CONJUNCTIONS
    | RELATIVES
    | PREPOSITIONS
    | TO_BE
    | MODALS
    | {"whom", "after", "before", "while", "without", "since", "until", "over", "under"}
    | {"through", "during", "when", "where", "why", "how", "whether", "although", "though"}
    | {"unless", "be", "been", "has", "have", "had"}
)
NOUN_PHRASE_START = ARTICLES  # later: "does mean | the era of"
# No cut right after one of these: "the | era", "this | model".
DETERMINERS = ARTICLES | POSSESSIVES | DEMONSTRATIVES - {"such"}
# The head: what the learner hears first, so what the first synthesis waits on. Piper's
# time grows with the audio it makes (measured on the default voice, 2 threads: 2 words
# 35 ms, 3 words 52 ms, 4 words 60 ms, 6 words 118 ms, 8 words 158 ms), so the head is a
# phrase of 2-4 words, and the rest of the sentence is synthesised while it plays.
HEAD_WORDS = (2, 4)
HEAD_CHARS = 32
# Failing a phrase that short, one within 10 words: cutting inside a phrase ("The Chief
# | AI Officer") would be heard.
LONG_HEAD_WORDS = 10
# The rest of a reply is synthesised in phrases of about this many words (`pieces`): no
# more than ~0.2 s of the voice each on 2 cores, what a first audio may wait behind.
PIECE_WORDS = 12
PIECE_SLACK = 4  # a sentence this much longer is said whole: one more cut is not worth it


def head_phrase(sentence: str) -> tuple[str, str]:
    """Split a sentence so the first audio comes sooner: (head, rest); rest is empty
    when the sentence is short enough to say whole or has nowhere to cut. The head ends
    a phrase: after a clause ("Meta's new frontier model, | code-named Avocado, ...") or
    before a word that starts one ("Avocado was expected | to launch ..."), and leaves
    at least two words to the rest."""
    words = sentence.split()
    lo, hi = HEAD_WORDS
    if len(words) <= hi:
        return sentence, ""
    last = len(words) - 2  # the rest keeps two words at least
    short = [at for at in range(lo, min(hi, last) + 1) if len(" ".join(words[:at])) <= HEAD_CHARS]
    longer = [at for at in range(lo, min(LONG_HEAD_WORDS, last) + 1) if at not in short]
    # Among short heads the longest (fewer words left for the rest to wait on); past
    # them the shortest, since the learner waits for all of it.
    at = phrase_cut(words, sorted(short, reverse=True)) or phrase_cut(words, longer)
    if at is None:
        return sentence, ""
    return " ".join(words[:at]), " ".join(words[at:])


def pieces(sentence: str) -> list[str]:
    """A long sentence after the first as phrases of at most ~PIECE_WORDS words (cut as
    the head is), so that no one synthesis holds the voice for long: with several
    learners on one voice, a first audio waited behind another reply's 30-word sentence
    (0.4-0.8 s on 2 cores) although it is queued first."""
    words = sentence.split()
    out: list[str] = []
    while len(words) > PIECE_WORDS + PIECE_SLACK:
        last = len(words) - PIECE_SLACK
        at = phrase_cut(words, list(range(min(PIECE_WORDS, last), PIECE_WORDS // 2 - 1, -1)))
        if at is None:
            break  # nowhere to cut without being heard: said whole
        out.append(" ".join(words[:at]))
        words = words[at:]
    return [*out, " ".join(words)]


def phrase_cut(words: list[str], ats: list[int]) -> int | None:
    """The first of `ats` (cut before words[at]) that ends a clause, else that starts a
    phrase, else that starts a noun phrase; None if none does."""

    def ends_clause(at: int) -> bool:
        return bool(CLAUSE_END.search(words[at - 1]))

    def after_a_phrase(at: int) -> tuple[str, str] | None:
        """The words either side of the cut, lower-cased, if a phrase may end there:
        not after another phrase-starting word or a determiner ("might | have", "the |
        era")."""
        before, word = (w.lower().strip('“"(,') for w in words[at - 1 : at + 1])
        return None if before in PHRASE_START | DETERMINERS else (before, word)

    def starts_phrase(at: int) -> bool:
        pair = after_a_phrase(at)
        return pair is not None and pair[1] in PHRASE_START

    def starts_noun_phrase(at: int) -> bool:
        # Or an adverb or a participle after a noun: "With Chinese AI labs | reportedly
        # using ...", but not "Despite being | technically impressive".
        pair = after_a_phrase(at)
        if pair is None:
            return False
        before, word = pair
        verbal = ("ly", "ing")
        return word in NOUN_PHRASE_START or (
            len(word) > 4 and word.endswith(verbal) and not before.endswith(verbal)
        )

    for test in (ends_clause, starts_phrase, starts_noun_phrase):
        for at in ats:
            if 0 < at < len(words) and test(at):
                return at
    return None


def trim_silence_after(pcm: bytes, rate: int, keep_ms: int = 40) -> bytes:
    """A head's audio without most of the silence the voice ends each input with (about
    150 ms on Piper's voices, 50 ms more before the rest's first word): the two pieces
    of one sentence are heard as one phrase, not two with a gap."""
    samples = np.frombuffer(pcm, "<i2")
    step = rate // 100  # 10 ms
    frames = samples[: len(samples) // step * step].reshape(-1, step).astype(np.float32)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > SILENCE_RMS)
    if not len(loud):
        return pcm
    end = min(len(samples), (int(loud[-1]) + 1) * step + rate * keep_ms // 1000)
    return pcm[: 2 * end]


class Speaker:
    def __init__(
        self,
        tts: ModelWorker,
        turn_id: str,
        send_event: SendEvent,
        send_bytes: SendBytes,
        frame_ms: int = 100,
        length_scale: float = 1.0,
        cache: SpeechCache | None = None,
    ) -> None:
        self.tts = tts
        self.cache = cache  # the first words of likely replies, said ahead
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
        # (text, whether the next piece goes on with its sentence)
        self._queue: asyncio.Queue[tuple[str, bool] | None] = asyncio.Queue()
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
                # The first audio waits for the first piece's synthesis: a long first
                # sentence starts with a short phrase of its own.
                head, tail = head_phrase(sentence)
                self._said_any = True
                parts = [head, *pieces(tail)] if tail else [head]
            else:
                parts = pieces(sentence)
            for i, part in enumerate(parts):
                self._queue.put_nowait((part, i + 1 < len(parts)))

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
        first = not self.synth_seconds
        kept = self.cache.get(sentence, self.length_scale) if first and self.cache else None
        if kept is not None:
            pcm = kept
        else:
            pcm = await self.tts.call(
                lambda: b"".join(self.tts.engine.synthesize(sentence, self.length_scale)),
                priority=URGENT if first else NORMAL,
            )
            if first and self.cache is not None:
                self.cache.put(sentence, self.length_scale, pcm)
        self.synth_seconds.append(time.perf_counter() - start)
        return pcm

    async def _run(self) -> None:
        """Sentences are synthesised in order as they arrive. Sending is not paced: the
        client buffers and plays, so the queue never holds back the next sentence."""
        started = False
        while (piece := await self._queue.get()) is not None:
            sentence, goes_on = piece
            try:
                pcm = await self._synthesize(sentence)
            except EngineError as exc:
                self.failed = exc  # the rest of the reply is not spoken
                break
            if goes_on:
                # A comma is heard as a short pause; a cut inside a clause as none.
                keep_ms = 120 if CLAUSE_END.search(sentence) else 40
                pcm = trim_silence_after(pcm, self.rate, keep_ms)
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
