"""Answering: a question (+ recent turns) -> streamed, verified answer with sources.

    question ─▶ retrieval (decides coverage) ─▶ prompt ─▶ llama.cpp tokens
             ─▶ sentences ─▶ grounding check ─▶ AnswerDelta ... ─▶ Answer

Nothing reaches the learner before it is checked: each sentence is verified against the
cited passages as soon as it is complete. If the first sentence fails, the LLM is
stopped and an extractive answer (the best sentences of the best passages, verbatim)
replaces it; a later failing sentence ends the answer there. When retrieval finds no
passage that covers the question, the tutor says so and names what the articles cover.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from server.engines import ModelWorker
from server.metrics import FALLBACKS
from server.reason import ground
from server.reason.lookup import Hit, Index
from server.reason.passages import Passage
from server.reason.prompt import build_messages
from server.reason.sentences import SentenceSplitter
from server.reason.text import STOPWORDS, query_terms, sentences, terms, words

log = logging.getLogger(__name__)
ANAPHORA = {"it", "its", "they", "them", "their", "this", "that", "these", "those", "he",
            "she", "his", "her", "there", "then", "one", "ones", "else", "also", "and"}
MAX_SENTENCES = 3


@dataclass(frozen=True)
class Source:
    article_id: int
    title: str
    quote: str
    paragraph: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


class Answerer:
    def __init__(self, index: Index, llm: ModelWorker | None, *, k: int = 4,
                 min_coverage: float = 0.6, max_tokens: int = 96) -> None:
        self.index = index
        self.llm = llm
        self.k = k
        self.min_coverage = min_coverage
        self.max_tokens = max_tokens

    # --- retrieval --------------------------------------------------------------------

    def retrieve(self, question: str, history: list[tuple[str, str]],
                 prefer_article: int | None = None) -> list[Hit]:
        """Follow-ups ("and when was it supposed to launch?") lean on the previous
        question: its topic words join the query when the new one points back."""
        hits = self.index.search(question, self.k * 2, prefer_article)
        asks_back = bool(ANAPHORA & set(words(question))) or len(query_terms(question)) <= 1
        if history and asks_back:
            combined = self.index.search(f"{history[-1][0]} {question}", self.k * 2,
                                         prefer_article)
            if combined and (not hits or combined[0].coverage >= hits[0].coverage):
                hits = combined
        return hits

    def with_definitions(self, question: str, hits: list[Hit]) -> list[Hit]:
        """For "what is X?", a sentence that defines X ("Avocado (a frontier LLM)") may
        sit in a passage BM25 ranks low; look for one in every passage."""
        term = defined_term(question)
        if term is None:
            return hits
        have = {h.passage.id for h in hits}
        extra = [
            Hit(p, 0.0, 0.0, frozenset())
            for p in self.index.passages
            if p.id not in have and any(definition_bonus(term, s) for s in p.sentences)
        ]
        return hits + extra[:3]

    def covered(self, hits: list[Hit]) -> bool:
        return bool(hits) and hits[0].coverage >= self.min_coverage

    def not_covered(self) -> str:
        topics = self.index.vocabulary(6)
        topics = [t for t in topics if not t.isdigit()][:4]
        if not topics:
            return "I can only answer from the articles, and there are none yet."
        listed = ", ".join(topics[:-1]) + " and " + topics[-1] if len(topics) > 1 else topics[0]
        return f"The articles don't cover that. They're about {listed}: ask me about those."

    # --- answering --------------------------------------------------------------------

    async def stream(
        self, question: str, history: list[tuple[str, str]] | None = None,
        prefer_article: int | None = None, deadline: float | None = None,
    ) -> AsyncIterator[AnswerDelta | Answer]:
        """`deadline`: seconds to wait for the LLM's first verified sentence before the
        extractive answer is used instead (voice turns set it: a learner waiting in
        silence is worse off than one hearing the article's own sentence)."""
        history = history or []
        start = time.perf_counter()
        hits = self.retrieve(question, history, prefer_article)
        timings = {"retrieval": time.perf_counter() - start}
        if not self.covered(hits):
            text = self.not_covered()
            yield AnswerDelta(text)
            yield Answer(text, False, [], timings=timings)
            return

        hits = self.with_definitions(question, hits)
        context = self.llm_context(question, hits)
        said: list[str] = []
        fallback: str | None = None
        if self.llm is not None:
            async for item in self._generate(question, context, history, timings, deadline):
                if isinstance(item, str):
                    said.append(item)
                    yield AnswerDelta(item if len(said) == 1 else " " + item)
                else:
                    fallback = item.reason
                    break
        else:
            fallback = "no model"
        if not said:
            if fallback:
                FALLBACKS.labels(reason=fallback).inc()
                log.info("answer replaced by extractive answer (%s)", fallback)
            said = self.extractive(question, hits)
            yield AnswerDelta(" ".join(said))
        text = " ".join(said)
        timings["answer"] = time.perf_counter() - start
        yield Answer(text, True, self.sources(text, hits), fallback, timings)

    async def _generate(
        self, question: str, context: str, history: list[tuple[str, str]],
        timings: dict[str, float], deadline: float | None = None,
    ) -> AsyncIterator[str | ground.Check]:
        """Verified sentences from the LLM; a failed Check ends the stream. Sentences are
        checked against exactly the text the LLM was given. Names and numbers are checked
        as soon as they are written, so an invention stops the LLM mid-sentence."""
        assert self.llm is not None
        messages = build_messages(question, context, history)
        splitter = SentenceSplitter()
        responder = self.llm.engine
        start = time.perf_counter()
        count = 0
        stream = self.llm.stream(lambda c: responder.stream(messages, self.max_tokens, c))
        pieces = aiter(stream)
        try:
            while True:
                wait = None if deadline is None or count else deadline - (
                    time.perf_counter() - start)
                try:
                    piece = await asyncio.wait_for(anext(pieces), max(wait, 0.001)
                                                   if wait is not None else None)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if count == 0:
                        yield ground.Check(False, reason="deadline")
                    return
                timings.setdefault("first_token", time.perf_counter() - start)
                for sentence in splitter.feed(piece):
                    result = ground.check(sentence, context, question)
                    if not result.ok:
                        if count == 0:
                            log.info("rejected LLM sentence %r: %s %s", sentence,
                                     result.reason, result.unsupported)
                            yield result
                        return
                    count += 1
                    yield sentence
                    if count >= MAX_SENTENCES:
                        return
                early = ground.unsupported_claims(splitter.pending, context)
                if early:
                    if count == 0:
                        log.info("stopped LLM at %r: %s", splitter.pending, early)
                        yield ground.Check(False, tuple(early), 0.0,
                                           "unsupported names or numbers")
                    return
            for sentence in splitter.flush():
                # An unfinished last sentence (max_tokens hit) is dropped, not guessed at.
                result = ground.check(sentence, context, question)
                if not sentence.endswith((".", "!", "?")):
                    result = ground.Check(False, reason="unfinished sentence")
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

    def candidates(self, question: str, hits: list[Hit]) -> list[tuple[float, int, int]]:
        """Every sentence of the retrieved passages, scored as an answer: (score, hit
        rank, sentence index), best first.

        The score is how much of the question the sentence covers (its section heading
        counts: it is the sentence's context), plus a bonus when it holds the kind of
        answer the question asks for (a date for "when", a name for "who", a definition
        for "what is X", advice for "what should"), less a little for a lower-ranked
        passage or a long sentence."""
        q = query_terms(question)
        weights = {t: self.index.weight(t, verb) for t, verb in q.items()}
        want = answer_type(question)
        scored: list[tuple[float, int, int]] = []
        for rank, hit in enumerate(hits):
            heading = set(terms(hit.passage.heading or ""))
            for i, sentence in enumerate(hit.passage.sentences):
                covered = self.index.coverage(weights, frozenset(set(terms(sentence)) | heading))
                score = (covered + answer_bonus(want, sentence, question)
                         - 0.03 * rank - 0.002 * len(sentence.split()))
                if sentence.endswith("?"):
                    score -= 0.3  # a question is not an answer
                scored.append((score, rank, i))
        scored.sort(key=lambda c: c[0], reverse=True)
        return scored

    def extractive(self, question: str, hits: list[Hit], max_words: int = 45) -> list[str]:
        """The best-scoring sentence, verbatim, with its paragraph's next sentences up to
        `max_words` (they usually complete it: "The original plan was to launch by end
        of 2025. That got delayed. Current estimates put it in Q1-Q2 2026."), and the
        short label before it if it has one ("Competitive dynamics.")."""
        ranked = self.candidates(question, hits)
        if not ranked:
            return []
        chosen = self._extend(hits[ranked[0][1]].passage, ranked[0][2], max_words)
        # The answer must hold the kind of thing asked for (a date, a name, advice...):
        # if it doesn't, add the best sentence that does.
        want = answer_type(question)
        if want != "other" and not any(answer_bonus(want, c, question) for c in chosen):
            for _, rank, i in ranked[1:]:
                sentence = hits[rank].passage.sentences[i]
                if sentence not in chosen and answer_bonus(want, sentence, question) > 0:
                    chosen = chosen[:2] + [sentence]
                    break
        return chosen

    @staticmethod
    def _extend(passage: Passage, i: int, max_words: int) -> list[str]:
        chosen = [passage.sentences[i]]
        if i > 0 and len(passage.sentences[i - 1].split()) <= 4:
            chosen.insert(0, passage.sentences[i - 1])
        budget = max_words - sum(len(c.split()) for c in chosen)
        for nxt in passage.sentences[i + 1 :]:
            if len(nxt.split()) > budget:
                break
            chosen.append(nxt)
            budget -= len(nxt.split())
        return chosen

    def llm_context(self, question: str, hits: list[Hit], max_words: int = 80) -> str:
        """What the LLM sees: the two best answer sentences, each with what follows it.
        Focused text helps a 135M model more than whole passages, and a short prompt is
        a fast first token."""
        ranked = self.candidates(question, hits)
        picked: list[str] = []
        for _, rank, i in ranked[:4]:
            for sentence in self._extend(hits[rank].passage, i, 45):
                if sentence not in picked:
                    picked.append(sentence)
            if sum(len(x.split()) for x in picked) >= max_words or len(picked) >= 4:
                break
        return " ".join(picked)

    def sources(self, answer: str, hits: list[Hit], limit: int = 3) -> list[Source]:
        """The article sentences behind the answer, quoted verbatim: each answer sentence
        is aligned with the passage sentence that shares most of its words; aligned
        sentences of one paragraph become one quote. Every name and number the answer
        says then stands in some quote."""
        picked: dict[tuple[int, int], dict[int, str]] = {}
        order: list[tuple[int, int]] = []
        titles: dict[int, str] = {}
        for sentence in sentences(answer):
            wanted = set(terms(sentence))
            if not wanted:
                continue
            best: tuple[float, Hit, int] | None = None
            for hit in hits:
                for i, candidate in enumerate(hit.passage.sentences):
                    share = len(wanted & set(terms(candidate))) / len(wanted)
                    if best is None or share > best[0]:
                        best = (share, hit, i)
            if best is None or best[0] < 0.5:
                continue
            _, hit, i = best
            key = (hit.passage.article_id, hit.passage.paragraph)
            if key not in picked:
                picked[key] = {}
                order.append(key)
            titles[hit.passage.article_id] = hit.passage.article_title
            picked[key][hit.passage.first_sentence + i] = hit.passage.sentences[i]
        return [
            Source(article_id, titles[article_id],
                   " ".join(text for _, text in sorted(picked[(article_id, paragraph)].items())),
                   paragraph)
            for article_id, paragraph in order[:limit]
        ]


DATE_LIKE = re.compile(r"\b((19|20)\d{2}|Q[1-4]|January|February|March|April|May|June|July|"
                       r"August|September|October|November|December|yesterday|today|"
                       r"next (year|month|quarter)|last (year|month))\b")
NUMBER_LIKE = re.compile(r"\d|\b(hundreds?|thousands?|millions?|billions?|trillions?|"
                         r"dozens?)\b", re.IGNORECASE)
NAME_LIKE = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+ [A-Z][a-z]+")


def answer_type(question: str) -> str:
    q = question.lower().strip()
    if q.startswith(("when", "what year", "what date", "by when")):
        return "date"
    if q.startswith(("how much", "how many", "how long", "how big")):
        return "number"
    if q.startswith(("who ", "whom", "whose")):
        return "name"
    if re.match(r"^(what|who) (is|are|was|were) ([\w\s-]{1,40})\?*$", q):
        return "definition"
    if re.search(r"\b(should|ought to|what (can|could) \w+ do|how (can|could|do) (i|we|you))\b", q):
        return "advice"
    if q.startswith("why"):
        return "reason"
    return "other"


IMPERATIVE_NEXT = {"your", "the", "a", "an", "for", "on", "to", "with", "what", "how", "it",
                   "them", "out", "up", "about"}
REASON_WORDS = re.compile(r"\b(because|reasons?|driv(e|es|ing)|due to|pressure|concerns?|"
                          r"so that|in order to)\b", re.IGNORECASE)


def is_imperative(sentence: str) -> bool:
    """"Diversify your model dependencies.": a bare verb, then an object word."""
    parts = sentence.split()
    return (len(parts) >= 2 and parts[0][:1].isupper()
            and parts[0].lower() not in STOPWORDS and parts[1].lower() in IMPERATIVE_NEXT)


def answer_bonus(want: str, sentence: str, question: str) -> float:
    if want == "advice" and (is_imperative(sentence) or " should " in sentence):
        return 0.45  # "what should I do" is answered by advice, whatever words it uses
    if want == "reason" and REASON_WORDS.search(sentence):
        return 0.1
    if want == "date" and DATE_LIKE.search(sentence):
        return 0.2
    if want == "number" and NUMBER_LIKE.search(sentence):
        return 0.2
    if want == "name" and NAME_LIKE.search(sentence):
        return 0.2
    if want == "definition" and (term := defined_term(question)):
        return definition_bonus(term, sentence)
    return 0.0


def defined_term(question: str) -> str | None:
    m = re.match(r"^(?:what|who) (?:is|are|was|were) (?:an? |the )?([\w\s.-]{1,40}?)\s*\?*$",
                 question.strip(), re.IGNORECASE)
    return m.group(1).strip() if m else None


def definition_bonus(term: str, sentence: str) -> float:
    """'X (a ...)', 'X, a ...', 'X is a ...' define X; 'codenamed X' names it."""
    x = re.escape(term)
    if re.search(rf"\b{x}[”\"’]?\s*(\(an? |, an? |, the |is an? |are |was an? )", sentence,
                 re.IGNORECASE):
        return 0.5
    if re.search(rf"(codenamed|called|named|known as)\s*[“\"]?{x}\b", sentence, re.IGNORECASE):
        return 0.15
    return 0.0


def clean_question(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


async def answer(answerer: Answerer, question: str, history: list[tuple[str, str]] | None = None,
                 prefer_article: int | None = None) -> Answer:
    """The whole answer at once (CLI, HTTP)."""
    result: Answer | None = None
    async for item in answerer.stream(question, history, prefer_article):
        if isinstance(item, Answer):
            result = item
    assert result is not None
    return result

