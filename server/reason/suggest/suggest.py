"""Follow-up suggestions: an answer (its sources) -> 2-3 short questions the articles answer
about the neighbouring points the learner has not met yet.

    answer's paragraphs ─▶ neighbouring paragraphs (next, previous, further; then the rest)
                       ─▶ candidate questions, written from their sentences (`phrase.py`)
                       ─▶ each asked of the tutor's own pipeline (retrieval, coverage
                          decision, extractive answer, grounding check): kept only if it
                          is answered, from where it says, with something it did not say
                       ─▶ the first ones whose answer is new to the learner

A suggestion is a promise that the tutor can answer it, so none is offered unchecked. The
checks are cached per paragraph (the library changes rarely) and dropped whenever the
index is rebuilt (its fingerprint changes). A declined question gets suggestions too: from
the passages retrieval found nearest to it."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.reason import ground
from server.reason.answer.cite import Source, cite
from server.reason.answer.commands import PastTurn, detect
from server.reason.answer.extract import answer_bonus
from server.reason.suggest.phrase import Paragraph, candidates
from server.reason.text import ANAPHORA, fold, terms, words

if TYPE_CHECKING:
    from server.reason.answer.respond import Answerer


def with_suggestions(answerer: Answerer) -> Answerer:
    """The answer path with follow-up questions (what `Answerer.stream(suggest=True)`
    asks): the composition root attaches them, the answer path never imports this layer."""
    answerer.suggester = Suggester(answerer)
    return answerer


PassageKey = tuple[int, int]  # (article id, paragraph index), as a `Source` names it
PER_PARAGRAPH = 2  # verified questions kept per paragraph
TRIES_PER_PARAGRAPH = 8  # candidates checked per paragraph, at most (each ~15-20 ms)
COLD_BUDGET = 12  # paragraphs checked for the first time in one call, at most
MIN_NEW_WORDS = 2  # an answer must say this many content words the question did not


@dataclass(frozen=True)
class Suggestion:
    text: str
    origin: PassageKey  # the paragraph it was written from
    landing: tuple[PassageKey, ...]  # the paragraphs its answer quotes, first the main one
    form: str  # which phrasing made it (for measurements)


class Suggester:
    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self._lock = threading.Lock()
        self._fingerprint = ""
        self._paragraphs: dict[PassageKey, Paragraph] = {}
        self._order: dict[int, list[int]] = {}  # article -> its paragraph indices, in order
        self._checked: dict[PassageKey, list[Suggestion]] = {}

    # --- choosing ---------------------------------------------------------------------

    def suggest(
        self,
        anchors: Sequence[PassageKey],
        seen: Collection[PassageKey] = (),
        asked: Collection[str] = (),
        limit: int = 3,
    ) -> list[str]:
        """Up to `limit` verified questions about the paragraphs nearest `anchors` (an
        answer's sources) whose answers land on paragraphs not in `seen` or `anchors`,
        none already `asked`, each landing on a different paragraph."""
        self._refresh()
        met = set(seen) | set(anchors)
        asked_forms = {_form(q) for q in asked}
        chosen: list[Suggestion] = []
        cold = 0
        for key in self._nearest(anchors):
            if key not in self._checked:
                if cold >= COLD_BUDGET:
                    continue
                cold += 1
            for s in self.checked(key):
                if (
                    s.landing[0] in met
                    or any(s.landing[0] == c.landing[0] for c in chosen)
                    or _form(s.text) in asked_forms
                    or any(_form(s.text) == _form(c.text) for c in chosen)
                ):
                    continue
                chosen.append(s)
                break  # one per paragraph: the learner sees several places to go
            if len(chosen) >= limit:
                break
        return [s.text for s in chosen]

    def for_turn(
        self, question: str, sources: Sequence[Source], turns: Sequence[PastTurn] = ()
    ) -> list[str]:
        """Suggestions after one answer: about the paragraphs next to its `sources` (a
        declined question has none: next to the passages nearest the question), neither
        asked nor quoted in `turns` (the conversation so far). Blocking: off the loop."""
        if detect(question) is not None:  # "say that again": about what was asked before
            question = next((t.question for t in reversed(turns) if detect(t.question) is None), "")
        anchors = [(s.article_id, s.paragraph) for s in sources]
        if not anchors and question:
            anchors = self.near(question)
        seen = {(s.article_id, s.paragraph) for t in turns for s in t.sources}
        return self.suggest(anchors, seen, {t.question for t in turns} | {question})

    def near(self, question: str) -> list[PassageKey]:
        """The paragraphs retrieval finds nearest a question (for a declined one)."""
        hits = self.answerer.index.search(question, 4)
        return [
            (h.passage.article_id, h.passage.paragraph) for h in hits if not h.passage.is_metadata
        ][:2]

    def _nearest(self, anchors: Sequence[PassageKey]) -> list[PassageKey]:
        """Paragraphs by distance from the anchors in their articles (the next before the
        previous: an article builds forward), then every other article's from its start."""
        ranked: list[tuple[float, bool, int, PassageKey]] = []
        for rank, (article, paragraph) in enumerate(anchors):
            order = self._order.get(article, [])
            # Where the anchor stands; one that is not a paragraph here (the metadata
            # passage, -1) stands between its neighbours.
            at = (
                order.index(paragraph)
                if paragraph in order
                else sum(1 for p in order if p < paragraph) - 0.5
            )
            for i, p in enumerate(order):
                ranked.append((abs(i - at), i < at, rank, (article, p)))
        ranked.sort()
        keys = list(dict.fromkeys(k for *_, k in ranked))
        near = {a for a, _ in anchors}
        for article, order in self._order.items():
            if article not in near:
                keys += [(article, p) for p in order]
        return keys

    # --- checking ---------------------------------------------------------------------

    def checked(self, key: PassageKey) -> list[Suggestion]:
        """The verified questions written from one paragraph (cached)."""
        self._refresh()
        cached = self._checked.get(key)
        if cached is not None:
            return cached
        paragraph = self._paragraphs.get(key)
        found: list[Suggestion] = []
        if paragraph is not None:
            for form, text in candidates(paragraph, self.answerer.index.lexicon)[
                :TRIES_PER_PARAGRAPH
            ]:
                if any(_form(text) == _form(f.text) for f in found):
                    continue
                landing = self.landing(text)
                if landing:
                    found.append(Suggestion(text, key, landing, form))
                    if len(found) >= PER_PARAGRAPH:
                        break
        with self._lock:
            if self._fingerprint == self.answerer.index.fingerprint:
                self._checked[key] = found
        return found

    def landing(self, question: str) -> tuple[PassageKey, ...]:
        """Where the tutor's own answer to `question` comes from, or () when the question
        would not get a good answer: declined, echoed, of the wrong kind, not grounded, a
        command, or leaning on the previous question (so asked after any answer, it would
        be answered as something else)."""
        if detect(question) is not None:
            return ()
        answerer = self.answerer
        parsed, hits, decision = answerer.decide(question, [])
        if not decision.answerable or not hits:
            return ()
        if (ANAPHORA & set(words(question)) or len(parsed.terms) <= 1) and hits[0].coverage < 1:
            return ()  # a follow-up's retrieval would mix in the previous question
        hits = answerer.extractor.widen(parsed, hits)
        said = answerer.extractor.extractive(parsed, hits)
        if not said:
            return ()
        answer = " ".join(said)
        evidence = ground.Evidence(" ".join(h.passage.text for h in hits))
        if not all(ground.check(s, evidence).ok for s in said):
            return ()
        if len(set(terms(answer)) - set(terms(question))) < MIN_NEW_WORDS:
            return ()
        if parsed.kind in ("date", "number", "name") and not answer_bonus(
            parsed.kind, answer, parsed.search_text
        ):
            return ()
        return tuple(dict.fromkeys((s.article_id, s.paragraph) for s in cite(answer, hits)))

    def all(self) -> list[Suggestion]:
        """Every paragraph's verified questions (checks them all once: for tests and for
        warming the cache off the turn path)."""
        self._refresh()
        return [s for key in list(self._paragraphs) for s in self.checked(key)]

    def _refresh(self) -> None:
        """Paragraphs from the index; checks dropped when it was rebuilt."""
        index = self.answerer.index
        if self._fingerprint == index.fingerprint and self._paragraphs:
            return
        paragraphs = Paragraph.of(index.passages)
        with self._lock:
            self._fingerprint = index.fingerprint
            self._paragraphs = {p.key: p for p in paragraphs}
            self._order = {}
            for p in paragraphs:
                self._order.setdefault(p.key[0], []).append(p.key[1])
            self._checked = {}


def _form(question: str) -> str:
    """A question reduced to its words, so "What is Avocado?" matches "what is avocado"."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(question)))
