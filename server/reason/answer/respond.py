"""Answering: a question (+ recent turns) -> streamed, verified answer with sources.

    question ─▶ retrieval (decides coverage) ─▶ prompt ─▶ llama.cpp tokens
             ─▶ sentences ─▶ grounding check ─▶ AnswerDelta ... ─▶ Answer

Nothing reaches the learner before it is checked: each sentence is verified against the
cited passages as soon as it is complete. If the first sentence fails, the LLM is
stopped and an extractive answer (the best sentences of the best passages, verbatim)
replaces it; a later failing sentence ends the answer there. When retrieval finds no
passage that covers the question, the tutor says so and names what the articles cover.

Commands (`commands.py`) are answered here too: "tell me more", "say that again" (the last
answer verbatim, with its sources), "simpler" (the shortest verified sentence of its
sources that carries its main fact); "slower" and "faster" are acknowledged, and the
`Answer.command` they carry is for the session to act on. With `suggest=True`, an answer
carries 2-3 follow-up questions the articles answer (`suggest.py`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from server.core.metrics import FALLBACKS
from server.engines import ModelWorker
from server.reason import ground
from server.reason.answer.cite import Source, cite
from server.reason.answer.commands import Command, PastTurn, detect, last_content, reply
from server.reason.answer.extract import Extractor, answer_bonus, openings
from server.reason.answer.gate import Decision, Gate
from server.reason.answer.judge import Judge
from server.reason.answer.prompt import build_messages
from server.reason.answer.rank import Ranker
from server.reason.answer.sentences import SentenceSplitter
from server.reason.answer.trace import Trace, trace_of
from server.reason.index.lookup import Hit, Index
from server.reason.query.kinds import answer_type
from server.reason.query.question import Question
from server.reason.text import ANAPHORA, words

log = logging.getLogger(__name__)
MAX_SENTENCES = 3
NOT_COVERED = "The articles don't cover that."


class FollowUps(Protocol):
    """What suggests follow-up questions for a turn (`suggest.Suggester`)."""

    def for_turn(
        self, question: str, sources: Sequence[Source], turns: list[PastTurn]
    ) -> list[str]: ...


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass
class Answer:
    text: str
    grounded: bool
    sources: list[Source]
    fallback: str | None = None  # why the LLM answer was replaced, if it was
    timings: dict[str, float] = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)  # follow-ups the articles answer
    command: Command | None = None  # a command the session acts on ("slower", "faster")
    trace: Trace | None = None  # why it was answered so (`trace.py`); none for commands


class LlmOdds:
    """Whether a spoken turn should wait for the LLM at all. Spoken turns give the LLM a
    deadline, and a try that fails (too slow, or not verified: the default 135M model's
    answers mostly are not) adds that wait to the silence before the answer. So spoken
    turns start without waiting (the extractive answer) while none of the LLM's last
    `window` tries was used, and every `window`-th of them tries it beside the answer,
    off the spoken path (`Answerer._probe`): a better model or a quieter machine is
    noticed within `window` turns, and then waited for on every turn. (Trying it on the
    first turns of every run put 7 of the bench's 22 spoken turns 0.5 s later for
    nothing; a probe on the spoken path put one turn in eight 0.25 s later.) Text turns
    always try the LLM."""

    def __init__(self, window: int = 8) -> None:
        self.window = window
        self.outcomes: deque[bool] = deque([False] * window, maxlen=window)
        self.skipped = 0

    def worth_waiting(self) -> bool:
        """One of the last tries was used: this turn waits for the LLM too."""
        return any(self.outcomes)

    def probe_due(self) -> bool:
        """Counts a turn that did not wait; every `window`-th one tries the LLM aside."""
        self.skipped += 1
        return self.skipped % self.window == 0

    def record(self, used: bool) -> None:
        self.outcomes.append(used)


REFERRING = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|she|him|his|her)\b", re.IGNORECASE
)
POSSESSIVE = {"its", "their", "his", "her"}


def with_referent(text: str, previous: Question) -> str | None:
    """The question with its first pronoun replaced by the names the previous question
    asked about ("its launch" -> "Avocado's launch"); None when there is nothing to put
    in or nothing to replace."""
    names = previous.entities
    if not names:
        return None
    match = REFERRING.search(text)
    if match is None:
        return None
    together = " ".join(names)  # "Llama 3.1" is found as "Llama" and "3.1"
    name = together if together.lower() in previous.text.lower() else " and ".join(names)
    if match.group(1).lower() in POSSESSIVE:
        name += "'s"
    return text[: match.start()] + name + text[match.end() :]


class Answerer:
    def __init__(
        self,
        index: Index,
        llm: ModelWorker | None,
        *,
        k: int = 4,
        threshold: float = 0.5,
        max_tokens: int = 96,
        judge: Judge | None = None,
        ranker: Ranker | None = None,
    ) -> None:
        """`judge`: the LLM reader (TUTOR_READER=llm), for typed turns; None: the rules."""
        self.index = index
        self.judge = judge
        self.ranker = ranker  # TUTOR_READER=ranked: the trained answer ranker (rank.py)
        self.extractor = Extractor(index)
        self.gate = Gate(index, threshold)
        self.spoken_llm = LlmOdds()
        self.probes: set[asyncio.Task[None]] = set()  # LLM tries beside spoken answers
        self.llm = llm
        self.k = k
        self.max_tokens = max_tokens
        # Follow-up questions (`server/reason/suggest`): set by whoever composes the
        # answer path (services.open_services, suggest.with_suggestions), as the answer
        # path must not import the layer above it.
        self.suggester: FollowUps | None = None

    # --- retrieval --------------------------------------------------------------------

    def retrieve(
        self, question: Question, history: list[tuple[str, str]], prefer_article: int | None = None
    ) -> tuple[Question, list[Hit]]:
        """Follow-ups ("and when was it supposed to launch?") lean on the previous
        question: its topic words join the query when the new one points back. Returns
        the question as answered (the combined one, for a follow-up) and its hits."""
        hits = self.index.search(question, self.k * 2, prefer_article)
        asks_back = bool(ANAPHORA & set(words(question.text))) or len(question.terms) <= 1
        if history and asks_back:
            previous = self.index.question(history[-1][0])
            # "Who is leading it?" after a question about Avocado is "Who is leading
            # Avocado?": what it asks for stays its own (a name, not the launch date the
            # last question asked). Without a name to put in, both questions' words, the
            # new one first (what it asks for is read off its start).
            resolved = with_referent(question.text, previous)
            combined_q = self.index.question(resolved or f"{question.search_text} {history[-1][0]}")
            combined = self.index.search(combined_q, self.k * 2, prefer_article)
            if combined and (not hits or combined[0].coverage >= hits[0].coverage):
                return combined_q, combined
        return question, hits

    def decide(
        self, text: str, history: list[tuple[str, str]], prefer_article: int | None = None
    ) -> tuple[Question, list[Hit], Decision]:
        """Parse, retrieve and decide coverage: the part of a turn before any model."""
        question, hits = self.retrieve(self.index.question(text), history, prefer_article)
        return question, hits, self.gate.decide(question, hits)

    def not_covered(self) -> str:
        """The decline: what the library is about, by its articles' own titles (short
        forms, before any colon), so a learner knows what can be asked."""
        titles = list(
            dict.fromkeys(
                p.article_title.split(": ")[0].strip() for p in self.index.passages if p.is_metadata
            )
        )
        if not titles:
            return "I can only answer from the articles, and there are none yet."
        if len(titles) > 4:
            listed = ", ".join(f"“{t}”" for t in titles[:3]) + f" and {len(titles) - 3} more"
        elif len(titles) > 1:
            listed = ", ".join(f"“{t}”" for t in titles[:-1]) + f" and “{titles[-1]}”"
        else:
            listed = f"“{titles[0]}”"
        return f"{NOT_COVERED} They're {listed}: ask me about those."

    def openings(self) -> Iterator[str]:
        """How answers may start (the decline, and the articles' sentences from where
        `extractive` may take them), for the voice to prepare their first words."""
        yield NOT_COVERED
        yield from openings(self.index.passages)

    # --- answering --------------------------------------------------------------------

    async def stream(
        self,
        question: str,
        history: list[tuple[str, str]] | None = None,
        prefer_article: int | None = None,
        deadline: float | None = None,
        *,
        past: Sequence[PastTurn] | None = None,
        suggest: bool = False,
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """`deadline`: seconds to wait for the LLM's first verified sentence before the
        extractive answer is used instead (voice turns set it: a learner waiting in
        silence is worse off than one hearing the article's own sentence).
        `past`: the session's turns as the store keeps them (whole answers, with their
        sources): "say that again" and "simpler" work from them, and suggestions skip the
        paragraphs they quoted; without it `history` stands in (what was heard, no sources).
        `suggest`: the Answer carries follow-up questions (`Answer.suggestions`)."""
        history = history or []
        async for item in self._stream(question, history, prefer_article, deadline, past):
            # Speed commands change nothing about where the conversation can go next.
            if (
                isinstance(item, Answer)
                and suggest
                and not (item.command and item.command.changes_speed)
            ):
                begun = time.perf_counter()
                turns = list(past) if past is not None else [PastTurn(q, a) for q, a in history]
                suggester = self.suggester
                item.suggestions = (
                    await asyncio.to_thread(suggester.for_turn, question, item.sources, turns)
                    if suggester is not None
                    else []
                )
                item.timings["suggestions"] = time.perf_counter() - begun
            yield item

    async def _stream(
        self,
        question: str,
        history: list[tuple[str, str]],
        prefer_article: int | None,
        deadline: float | None,
        past: Sequence[PastTurn] | None,
    ) -> AsyncIterator[AnswerDelta | Answer]:
        start = time.perf_counter()
        command = detect(question)
        if command is not None:
            async for item in self._command(command, history, prefer_article, past, start):
                yield item
            return
        # "Slower", "say that again": no topic for a follow-up to lean on.
        history = [(q, a) for q, a in history if detect(q) is None]
        # The question's embedding is a few milliseconds of inference: off the event loop.
        parsed, hits, decision = await asyncio.to_thread(
            self.decide, question, history, prefer_article
        )
        timings = {"retrieval": time.perf_counter() - start}
        # The article search favoured (`Index.search`): the trace reads BM25's part of
        # each hit's score from it.
        preferred = (
            prefer_article if prefer_article is not None else self.index.referenced_article(parsed)
        )
        threshold = self.gate.threshold
        if not decision.answerable:
            log.info(
                "declined %r: %s (%s) %s",
                question,
                decision.rule,
                decision.reason,
                decision.features,
            )
            text = self.not_covered()
            yield AnswerDelta(text)
            why = trace_of(question, parsed, hits, decision, threshold, preferred)
            yield Answer(text, False, [], timings=timings, trace=why)
            return

        asked = question
        retrieved = hits
        question = parsed.search_text
        hits = self.extractor.widen(parsed, hits)
        ranked = self.extractor.candidates(parsed, hits)  # for the context and the trace
        order, reading = ranked, None
        if self.judge is not None and deadline is None:
            # The LLM reader (typed turns only) judges the best few sentences: the best
            # judged leads, or none passes and the tutor declines. It never widens what
            # is answered: a question the gate declined was never judged.
            begun = time.perf_counter()
            reading, order = await self.judge.read(question, hits, ranked)
            timings["reader"] = time.perf_counter() - begun
            if reading.outcome == "declined":
                text = self.not_covered()
                yield AnswerDelta(text)
                why = trace_of(
                    asked, parsed, retrieved, decision, threshold, preferred,
                    widened=hits, ranked=ranked, reading=reading,
                )  # fmt: skip
                yield Answer(text, False, [], timings=timings, trace=why)
                return
        elif self.ranker is not None:
            # The trained ranker (microseconds): its best candidate leads, or, when even
            # that one is unlikely to hold the answer, the tutor declines.
            p, order = self.ranker.read(parsed, hits, ranked, decision, self.index)
            if p < self.ranker.threshold:
                declined = Decision(
                    False,
                    p,
                    decision.features,
                    f"the best sentence is unlikely to answer (p {p:.2f})",
                    rule="ranker_no",
                )
                text = self.not_covered()
                yield AnswerDelta(text)
                why = trace_of(
                    asked, parsed, retrieved, declined, self.ranker.threshold, preferred,
                    widened=hits, ranked=ranked,
                )  # fmt: skip
                yield Answer(text, False, [], timings=timings, trace=why)
                return
        context = self.extractor.llm_context(parsed, hits, ranked=order)
        said: list[str] = []
        fallback: str | None = None
        checks: list[tuple[str, ground.Check]] = []
        llm = "not asked"
        if self.llm is None:
            fallback = "no model"
        elif deadline is not None and self.llm.pending:
            # Another learner's answer holds the LLM: ours could not start, let alone
            # pass verification, within the deadline. Shed the work, not the latency.
            fallback = "llm busy"
        elif deadline is not None and not self.spoken_llm.worth_waiting():
            fallback = "llm unlikely"
            if self.spoken_llm.probe_due():
                self._probe(question, context, history, deadline)
        else:
            llm = "answered"
            async for item in self._generate(question, context, history, timings, deadline, checks):
                if isinstance(item, str):
                    said.append(item)
                    yield AnswerDelta(item if len(said) == 1 else " " + item)
                else:
                    fallback = item.reason
                    break
            if deadline is not None:
                self.spoken_llm.record(bool(said))
        if not said:
            if fallback:
                FALLBACKS.labels(reason=fallback).inc()
                log.info("answer replaced by extractive answer (%s)", fallback)
            if llm == "answered":
                llm = "replaced"
            said = self.extractor.extractive(parsed, hits, ranked=order)
            yield AnswerDelta(" ".join(said))
        text = " ".join(said)
        timings["answer"] = time.perf_counter() - start
        why = trace_of(
            asked,
            parsed,
            retrieved,
            decision,
            threshold,
            preferred,
            widened=hits,
            ranked=ranked,
            said=said,
            llm=llm,
            fallback=fallback,
            checks=checks,
            reading=reading,
        )
        yield Answer(text, True, cite(text, hits), fallback, timings, trace=why)

    async def _command(
        self,
        command: Command,
        history: list[tuple[str, str]],
        prefer_article: int | None,
        past: Sequence[PastTurn] | None,
        start: float,
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """A command's reply: "more" goes on, "repeat" and "simpler" work from the last
        answer, "slower" and "faster" are acknowledged (the session changes the pace)."""
        if command.kind == "more":
            async for item in self._more(history, prefer_article, start):
                yield item
            return
        last = None
        if not command.changes_speed:
            last = await asyncio.to_thread(self._recall, history, past)
        text, grounded, sources = reply(command, last)
        yield AnswerDelta(text)
        timings = {"retrieval": 0.0, "answer": time.perf_counter() - start}
        yield Answer(text, grounded, sources, command.kind, timings, command=command)

    def _recall(
        self, history: list[tuple[str, str]], past: Sequence[PastTurn] | None
    ) -> PastTurn | None:
        """The last answer that said something, with its sources. From `history` (no
        sources kept), they are found again: its question's passages, cited by it."""
        if past is not None:
            return last_content(past)
        last = last_content(PastTurn(q, a) for q, a in history)
        if last is None:
            return None
        before = [q for q, _ in history[: history.index((last.question, last.answer)) + 1]]
        asked = next((q for q in reversed(before) if detect(q) is None), None)
        if asked is None:
            return last
        _, hits, decision = self.decide(asked, [])
        sources = tuple(cite(last.answer, hits)) if decision.answerable else ()
        return PastTurn(last.question, last.answer, sources, bool(sources))

    async def _more(
        self, history: list[tuple[str, str]], prefer_article: int | None, start: float
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """ "Tell me more": the last real question again, answered with the best sentences
        not yet said in this conversation (extractive: verbatim, so nothing to check)."""
        asked = next((q for q, _ in reversed(history) if detect(q) is None), None)
        if asked is None:
            text = "Ask me a question about the articles first, then I can tell you more."
            yield AnswerDelta(text)
            yield Answer(text, False, [], timings={"retrieval": 0.0})
            return
        parsed, hits, decision = await asyncio.to_thread(self.decide, asked, [], prefer_article)
        # Every piece said (an answer may join clauses that do not split as sentences).
        said = frozenset(s for _, a in history for s in re.split(r"(?<=[.!?])\s+", a) if s)
        more = self.extractor.extractive(parsed, hits, exclude=said)
        timings = {"retrieval": time.perf_counter() - start}
        if not decision.answerable or not more:
            text = "That's all the articles say about it."
            yield AnswerDelta(text)
            yield Answer(text, False, [], timings=timings)
            return
        text = " ".join(more)
        yield AnswerDelta(text)
        timings["answer"] = time.perf_counter() - start
        yield Answer(text, True, cite(text, hits), "more", timings)

    def _probe(
        self, question: str, context: str, history: list[tuple[str, str]], deadline: float
    ) -> None:
        """Try the LLM on this turn's question beside the answer being spoken, and record
        whether its first sentence came verified within the deadline (`LlmOdds`)."""

        async def probe() -> None:
            used = False
            try:
                async for item in self._generate(question, context, history, {}, deadline):
                    used = isinstance(item, str)
                    break  # the first sentence decides: the LLM is stopped here
            except Exception as exc:  # noqa: BLE001 - an LLM server down: a failed try
                log.info("the LLM's try beside a spoken answer failed: %s", exc)
            self.spoken_llm.record(used)

        task = asyncio.create_task(probe(), name="llm-probe")
        self.probes.add(task)
        task.add_done_callback(self.probes.discard)

    async def _generate(
        self,
        question: str,
        context: str,
        history: list[tuple[str, str]],
        timings: dict[str, float],
        deadline: float | None = None,
        checks: list[tuple[str, ground.Check]] | None = None,
    ) -> AsyncIterator[str | ground.Check]:
        """Verified sentences from the LLM; a failed Check ends the stream. Sentences are
        checked against exactly the text the LLM was given. Names and numbers are checked
        as soon as they are written, so an invention stops the LLM mid-sentence. `checks`
        gets each sentence (or unfinished one stopped) with its Check, for the trace."""
        assert self.llm is not None
        messages = build_messages(question, context, history)
        evidence = ground.Evidence(context)  # checked against on every piece the LLM writes
        splitter = SentenceSplitter()
        responder = self.llm.engine
        start = time.perf_counter()
        count = 0
        want = answer_type(question)

        def noted(sentence: str, result: ground.Check) -> ground.Check:
            if checks is not None:
                checks.append((sentence, result))
            return result

        def check(sentence: str) -> ground.Check:
            """Grounded, and (the first sentence) holding the kind of answer asked for."""
            result = ground.check(sentence, evidence, question)
            if result.ok and count == 0 and not answers_kind(want, sentence, question):
                return ground.Check(False, reason=f"no {want} in it")
            return result

        stream = self.llm.stream(lambda c: responder.stream(messages, self.max_tokens, c))
        pieces = aiter(stream)
        try:
            while True:
                wait = (
                    None if deadline is None or count else deadline - (time.perf_counter() - start)
                )
                try:
                    piece = await asyncio.wait_for(
                        anext(pieces), max(wait, 0.001) if wait is not None else None
                    )
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if count == 0:
                        yield ground.Check(False, reason="deadline")
                    return
                timings.setdefault("first_token", time.perf_counter() - start)
                for sentence in splitter.feed(piece):
                    result = noted(sentence, check(sentence))
                    if not result.ok:
                        if count == 0:
                            log.info(
                                "rejected LLM sentence %r: %s %s",
                                sentence,
                                result.reason,
                                result.unsupported,
                            )
                            yield result
                        return
                    count += 1
                    yield sentence
                    if count >= MAX_SENTENCES:
                        return
                early = ground.unsupported_claims(splitter.pending, evidence)
                if early:
                    stopped = ground.Check(False, tuple(early), 0.0, "unsupported names or numbers")
                    noted(splitter.pending, stopped)
                    if count == 0:
                        log.info("stopped LLM at %r: %s", splitter.pending, early)
                        yield stopped
                    return
            for sentence in splitter.flush():
                # An unfinished last sentence (max_tokens hit) is dropped, not guessed at.
                result = check(sentence)
                if not sentence.endswith((".", "!", "?")):
                    result = ground.Check(False, reason="unfinished sentence")
                noted(sentence, result)
                if result.ok:
                    count += 1
                    yield sentence
                elif count == 0:
                    log.info("rejected last LLM sentence %r: %s", sentence, result.reason)
                    yield result
                    return
            if count == 0:
                yield ground.Check(False, reason="no verified sentence")
        finally:
            await stream.aclose()  # stops llama.cpp if we leave early


# The kinds of question whose answer is a thing one can see in a sentence: the LLM's first
# sentence must hold it ("when is Avocado supposed to come out" is not answered by what
# Avocado is), or the article's own sentence answers instead.
DEFINITE = ("date", "number", "name", "definition")


def answers_kind(want: str, sentence: str, question: str) -> bool:
    """Whether the sentence holds the kind of answer `want` (`answer_type`) asks for."""
    # "What is Avocado?" is answered by what it is ("Avocado (a frontier LLM)"), not by
    # a sentence that only names it ("a new model codenamed Avocado").
    bonus = answer_bonus(want, sentence, question)
    return want not in DEFINITE or (bonus >= 0.5 if want == "definition" else bonus > 0)


def clean_question(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


async def answer(
    answerer: Answerer,
    question: str,
    history: list[tuple[str, str]] | None = None,
    prefer_article: int | None = None,
) -> Answer:
    """The whole answer at once (CLI, HTTP)."""
    result: Answer | None = None
    async for item in answerer.stream(question, history, prefer_article):
        if isinstance(item, Answer):
            result = item
    assert result is not None
    return result
