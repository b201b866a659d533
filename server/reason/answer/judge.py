"""The LLM reader (TUTOR_READER=llm): does this article sentence answer the question?

Optional, for larger machines or an LLM server; never on the default path, never on a
spoken turn. After the coverage decision says a typed question is answerable, the
extractor's best few sentences (`Extractor.candidates`, distinct sentences, best first)
are each put to an instruction-tuned model as one short yes/no prompt: the question, where
the sentence stands (article title, section heading, list lead-in) and the sentence. The
probability of "Yes" is read off the first reply token's log-probabilities, normalised
over the "Yes" and "No" tokens (`p_yes`); nothing is generated. The best-judged sentence
leads the answer when its P(yes) reaches the threshold; otherwise the tutor declines.

The reader only narrows or re-ranks: a question the gate declined is never judged, and a
judged sentence is still one of the article's own (quoted as the extractor quotes it). One
prompt per sentence, because numbered "which of these sentences" prompts fail for every
packaged model (docs: architecture, "Reading models"). If the engine fails (a server down,
without logprobs) the turn keeps the answer the rules chose, and the trace says why.

The model runs on its own ModelWorker (one slot in-process: the llama.cpp context is never
used from two threads); `judge()` is the blocking form, `ajudge()` the event loop's."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import Any, Protocol

from server.engines.interfaces import NORMAL
from server.engines.worker import ModelWorker
from server.reason.answer.trace import Judged, Reading
from server.reason.index.lookup import Hit
from server.reason.index.passages import Passage

log = logging.getLogger(__name__)

# The reply's first token: Qwen2.5's tokenizer has each as one token, and after the
# chat template's "assistant\n" the model says "Yes"/"No"; the others take the rest.
YES = ("Yes", "yes", " Yes", " yes", "YES")
NO = ("No", "no", " No", " no", "NO")
TOP = 3  # candidate sentences judged per turn (~0.6-1 s each on 2 cores, 1.5B)
THRESHOLD = 0.5
MAX_WORDS = 80  # a longer sentence is cut (the prompt stays short, the context small)
MAX_CONTEXT_WORDS = 40

# Strict about what answering is: on the development sets' top-3 candidates (labelled by
# holding an expected fact), this wording picked the right sentence 34 times of 43, the
# bare "does it answer" 31 (AUC 0.80 vs 0.77).
SYSTEM = (
    "You check whether one sentence from an article answers a learner's question. "
    "Say Yes only if the sentence itself states what the question asks for; say No "
    "if it is only about the same topic. Reply with one word: Yes or No."
)


class ReaderEngine(Protocol):
    """What the reader asks of a model (`server/engines/reader.py`)."""

    name: str

    def first_token_logprobs(
        self, messages: list[dict[str, str]], tokens: Sequence[str]
    ) -> dict[str, float]:
        """The log-probability of each of `tokens` as the reply's first token (a token the
        model's vocabulary or the server's top list lacks is left out)."""
        ...


def _cut(text: str, limit: int) -> str:
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit]) + " …"


def messages(question: str, sentence: str, context: str) -> list[dict[str, str]]:
    """One sentence's prompt. The question comes first, so the three prompts of a turn
    share their beginning (llama.cpp keeps it in its cache)."""
    where = f"{_cut(context, MAX_CONTEXT_WORDS)}\n" if context else ""
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"Question: {question.strip()}\n\n{where}"
            f"Sentence: {_cut(sentence, MAX_WORDS)}\n\n"
            "Does this sentence answer the question? Yes or No.",
        },
    ]


def p_yes(logprobs: dict[str, float]) -> float:
    """P(yes) among yes and no: the "Yes" tokens' probability over that of both kinds.
    Neither among them (a server's top list without either): 0, i.e. not a yes."""
    yes = sum(math.exp(logprobs[t]) for t in YES if t in logprobs)
    no = sum(math.exp(logprobs[t]) for t in NO if t in logprobs)
    return yes / (yes + no) if yes + no > 0 else 0.0


def context_of(passage: Passage) -> str:
    """Where the sentence stands: its article, its section, the lead-in of its list."""
    lines = [f"Article: {passage.article_title}"]
    if passage.heading and passage.heading != passage.article_title:
        lines.append(f"Section: {passage.heading}")
    if passage.lead:
        lines.append(f"Introduced by: {passage.lead}")
    return "\n".join(lines)


class Judge:
    """`engine`: a ReaderEngine; `worker`: the queue it runs behind (made here when
    not given: one slot, or the engine's `parallel` for a server)."""

    def __init__(
        self,
        engine: Any,
        worker: ModelWorker | None = None,
        *,
        threshold: float = THRESHOLD,
        top: int = TOP,
    ) -> None:
        self.engine = engine
        self.worker = worker or ModelWorker(engine, "reader", getattr(engine, "parallel", 1))
        self.threshold = threshold
        self.top = top

    @property
    def name(self) -> str:
        return str(getattr(self.engine, "name", "reader"))

    # --- on the worker's thread -----------------------------------------------------

    def _one(self, question: str, sentence: str, context: str) -> float:
        logprobs = self.engine.first_token_logprobs(messages(question, sentence, context), YES + NO)
        return p_yes(logprobs)

    def _all(self, question: str, sentences: list[tuple[str, str]]) -> list[float]:
        return [self._one(question, s, c) for s, c in sentences]

    # --- callers --------------------------------------------------------------------

    def judge(self, question: str, sentences: list[tuple[str, str]]) -> list[float]:
        """P(yes) that each (sentence, its context) answers the question. Blocking: waits
        for the worker (never call it from the worker's own thread)."""
        if not sentences:
            return []
        if self.worker.slots > 1:  # a server: the sentences in flight at once
            futures = [self.worker.submit(self._one, question, s, c) for s, c in sentences]
            return [f.result() for f in futures]
        return self.worker.submit(self._all, question, sentences).result()

    async def ajudge(
        self, question: str, sentences: list[tuple[str, str]], priority: int = NORMAL
    ) -> list[float]:
        """`judge` on the event loop: queued with the worker's priorities, counted in its
        `pending`."""
        if not sentences:
            return []
        if self.worker.slots > 1:
            return list(
                await asyncio.gather(
                    *(self.worker.call(self._one, question, s, c, priority=priority)
                      for s, c in sentences)
                )
            )  # fmt: skip
        return await self.worker.call(self._all, question, sentences, priority=priority)

    async def read(
        self, question: str, hits: list[Hit], ranked: list[tuple[float, int, int]]
    ) -> tuple[Reading, list[tuple[float, int, int]]]:
        """Judge the best `top` distinct sentences of `ranked` (`Extractor.candidates` of
        `hits`). Returns the record for the trace and the candidates to answer from: the
        best-judged first when it passes (outcome "picked"), unchanged when the reader
        declines ("declined": the caller declines) or fails ("failed")."""
        picked = top_candidates(hits, ranked, self.top)
        sentences = [(hits[c[1]].passage.sentences[c[2]], context_of(hits[c[1]].passage))
                     for c in picked]  # fmt: skip
        try:
            probabilities = await self.ajudge(question, sentences)
        except Exception as exc:  # noqa: BLE001 - the rules' answer stands; logged, traced
            log.warning("the LLM reader failed, keeping the rules' answer: %s", exc)
            return Reading((), self.threshold, "failed", f"{type(exc).__name__}: {exc}"), ranked
        judged = tuple(
            Judged(s, round(p, 4), hits[c[1]].passage.id)
            for (s, _), p, c in zip(sentences, probabilities, picked, strict=True)
        )
        if not picked:
            return Reading(judged, self.threshold, "declined"), ranked
        best = max(range(len(picked)), key=lambda n: (probabilities[n], -n))
        if probabilities[best] < self.threshold:
            return Reading(judged, self.threshold, "declined"), ranked
        lead = picked[best]
        return Reading(judged, self.threshold, "picked"), [
            lead,
            *(c for c in ranked if c is not lead),
        ]

    def close(self) -> None:
        self.worker.close()
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()


def top_candidates(
    hits: list[Hit], ranked: list[tuple[float, int, int]], top: int
) -> list[tuple[float, int, int]]:
    """The first `top` candidates that say different sentences (overlapping passage
    windows hold the same sentence more than once)."""
    seen: set[str] = set()
    out = []
    for c in ranked:
        sentence = hits[c[1]].passage.sentences[c[2]]
        if sentence in seen:
            continue
        seen.add(sentence)
        out.append(c)
        if len(out) >= top:
            break
    return out
