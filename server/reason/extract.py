"""Extractive answers: the article's own sentences that best answer a question.

Used when the LLM's answer fails verification (or is too slow for a spoken turn), and to
choose the focused text the LLM is given. Sentences are scored by how much of the
question they cover plus a bonus when they hold the kind of answer the question asks
for: a date for "when", a number for "how many", a name for "who", a definition for
"what is X", advice for "what should", a reason for "why"."""

from __future__ import annotations

import re

from server.reason.lookup import Hit, Index
from server.reason.passages import Passage
from server.reason.text import STOPWORDS, query_terms, terms


class Extractor:
    def __init__(self, index: Index) -> None:
        self.index = index

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
                score = (
                    covered
                    + answer_bonus(want, sentence, question)
                    - 0.03 * rank
                    - 0.002 * len(sentence.split())
                )
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


DATE_LIKE = re.compile(
    r"\b((19|20)\d{2}|Q[1-4]|January|February|March|April|May|June|July|"
    r"August|September|October|November|December|yesterday|today|"
    r"next (year|month|quarter)|last (year|month))\b"
)
NUMBER_LIKE = re.compile(
    r"\d|\b(hundreds?|thousands?|millions?|billions?|trillions?|"
    r"dozens?)\b",
    re.IGNORECASE,
)
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


IMPERATIVE_NEXT = {
    "your",
    "the",
    "a",
    "an",
    "for",
    "on",
    "to",
    "with",
    "what",
    "how",
    "it",
    "them",
    "out",
    "up",
    "about",
}
REASON_WORDS = re.compile(
    r"\b(because|reasons?|driv(e|es|ing)|due to|pressure|concerns?|"
    r"so that|in order to)\b",
    re.IGNORECASE,
)


def is_imperative(sentence: str) -> bool:
    """ "Diversify your model dependencies.": a bare verb, then an object word."""
    parts = sentence.split()
    return (
        len(parts) >= 2
        and parts[0][:1].isupper()
        and parts[0].lower() not in STOPWORDS
        and parts[1].lower() in IMPERATIVE_NEXT
    )


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
    m = re.match(
        r"^(?:what|who) (?:is|are|was|were) (?:an? |the )?([\w\s.-]{1,40}?)\s*\?*$",
        question.strip(),
        re.IGNORECASE,
    )
    return m.group(1).strip() if m else None


def definition_bonus(term: str, sentence: str) -> float:
    """'X (a ...)', 'X, a ...', 'X is a ...' define X; 'codenamed X' names it."""
    x = re.escape(term)
    if re.search(
        rf"\b{x}[”\"’]?\s*(\(an? |, an? |, the |is an? |are |was an? )", sentence, re.IGNORECASE
    ):
        return 0.5
    if re.search(rf"(codenamed|called|named|known as)\s*[“\"]?{x}\b", sentence, re.IGNORECASE):
        return 0.15
    return 0.0
