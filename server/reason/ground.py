"""Grounding: is every claim in an answer sentence backed by the passages it cites?

Two checks, both lexical, both deliberately strict (the default LLM is tiny and invents):
1. Every name, number and date in the sentence appears in the passages (case-folded).
   Names are capitalised words past the sentence start, words with digits, spelled-out
   numbers and month names.
2. Most of the sentence's content words (stems) appear in the passages, so a sentence
   built only from common words ("a tale of innovation and perseverance") fails too.
3. Those content words stand together in the text: one sentence of it must hold most of
   them, so a sentence stitched from unrelated places ("Llama 3.1 supported text, images
   and video", from a sentence on Llama 3.1 and the next on Llama 4) fails even when
   every word is there.
4. It says something beyond the question (an echo of the question is no answer).
5. Its names and numbers are bound as the source binds them: each stands in the one source
   sentence that supports the claim, next to the same words. "Restricted by Meta, who has
   always argued ..." fails against "If even Meta concludes ... restricted, it strengthens
   the position of OpenAI and Anthropic, who have always argued ...": every word is there,
   but "argued" belongs to OpenAI and Anthropic, not to Meta.
A sentence that hedges or refuses ("I don't know", "the passage does not say") also fails:
retrieval has already decided the articles cover the question, so the extractive answer
is better than a shrug."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.reason.text import STOPWORDS, fold, sentences, terms, words
from server.reason.words import MONTHS, NUMBER_WORDS

REFUSAL = re.compile(
    r"\b(i (don't|do not|can't|cannot) (know|say|answer|find)|not (mentioned|stated|"
    r"specified|provided|given)|no information|doesn't (say|mention)|does not (say|mention)|"
    r"as an ai|i'm sorry|i am sorry|passage|excerpt|question:)",
    re.IGNORECASE,
)
MIN_SUPPORT = 0.8
MAX_UNSUPPORTED_WORDS = 1
MIN_NEW_WORDS = 2
# A name's neighbouring content words in the answer must stand within this many content
# words of it in the source sentence (a clause is rarely longer).
BIND_WINDOW = 6
# The longest sentence checked, in words: a longer one (a table row thousands of cells
# wide, a text without full stops) fails as "too long to check" at once, since binding its
# names grows with the square of its length. An answer sentence or a lesson point is far
# shorter (the LLM writes at most TUTOR_MAX_ANSWER_TOKENS; drafting skips sentences past
# script.DRAFT_MAX_WORDS).
MAX_CHECK_WORDS = 200


@dataclass(frozen=True)
class Check:
    ok: bool
    unsupported: tuple[str, ...] = ()
    support: float = 1.0
    reason: str = ""


# Capitalised only because they open a sentence: not names.
OPENERS = {
    "however",
    "yes",
    "instead",
    "meanwhile",
    "overall",
    "still",
    "finally",
    "therefore",
    "thus",
    "moreover",
    "furthermore",
    "additionally",
    "indeed",
    "unfortunately",
    "fortunately",
    "sure",
    "well",
    "today",
    "currently",
    "recently",
    "despite",
    "although",
    "though",
    "according",
    "even",
    "many",
    "some",
    "several",
    "most",
    "both",
    "each",
    "every",
    "another",
    "like",
    "unlike",
}


def claims(text: str) -> list[str]:
    """Names, numbers and dates in a text (as written). A capitalised word that opens a
    sentence (or a line) counts only if it is not a common opener ("This", "However")."""
    found: list[str] = []
    for part in re.split(r"\n+", text):
        for sentence in sentences(part) or [part]:
            tokens = re.findall(r"[\w$€£%][\w.,'’\-$€£%]*", sentence)
            for i, raw in enumerate(tokens):
                token = raw.rstrip(".,").removesuffix("’s").removesuffix("'s")
                if not token:
                    continue
                lower = token.lower()
                if any(c.isdigit() for c in token) or lower in NUMBER_WORDS or lower in MONTHS:
                    found.append(token)
                elif (
                    token[0].isupper()
                    and lower != "i"
                    and (i > 0 or (lower not in STOPWORDS and lower not in OPENERS))
                ):
                    found.append(token)
    return found


class Evidence:
    """The text an answer may use, prepared once: the folded text, its words and each
    sentence's terms. The LLM stream checks every piece it writes against it, so none
    of this is redone per token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)
        self.words = set(words(text))
        split = sentences(text)
        self.sentences = [fold(x) for x in split]
        self.sentence_sequences = [terms(x) for x in split]
        self.sentence_terms = [set(x) for x in self.sentence_sequences]

    @classmethod
    def of(cls, context: str | Evidence) -> Evidence:
        return context if isinstance(context, Evidence) else cls(context)

    def missing(self, claimed: list[str]) -> list[str]:
        """The claims the text does not hold (as a phrase, and word by word)."""
        return [
            c
            for c in claimed
            if not (fold(c) in self.folded and all(p in self.words for p in words(c)))
        ]


def unsupported_claims(partial: str, context: str | Evidence) -> list[str]:
    """Names and numbers in a sentence still being written that the context lacks. The
    last word may be cut mid-token ("Llam"), so it waits for the next piece."""
    done = partial.rsplit(None, 1)[0] if " " in partial.strip() else ""
    return Evidence.of(context).missing(claims(done)) if done else []


def check(sentence: str, context: str | Evidence, question: str = "") -> Check:
    if too_long(sentence):
        return Check(False, reason="too long to check")
    if REFUSAL.search(sentence):
        return Check(False, reason="hedge")
    evidence = Evidence.of(context)
    missing = evidence.missing(claims(sentence))
    if missing:
        return Check(False, tuple(missing), 0.0, "unsupported names or numbers")
    content = set(terms(sentence))
    if not content:
        return Check(False, reason="no content")
    new = content - set(terms(question))
    if question and len(new) < MIN_NEW_WORDS:
        return Check(False, reason="repeats the question")
    overlaps = [len(content & x) for x in evidence.sentence_terms]
    best = max(overlaps, default=0)
    support = best / len(content)
    if support < MIN_SUPPORT or len(content) - best > MAX_UNSUPPORTED_WORDS:
        return Check(False, (), support, "not supported by the passages")
    supporting = [i for i, n in enumerate(overlaps) if n == best]
    if not any(bound(sentence, evidence, i) for i in supporting):
        return Check(False, (), support, "names bound to other words than in the source")
    return Check(True, (), support)


def too_long(sentence: str) -> bool:
    return len(sentence.split()) > MAX_CHECK_WORDS


def bound(sentence: str, evidence: Evidence, index: int) -> bool:
    """Whether the sentence's names and numbers stand in source sentence `index`, each
    near the content words it stands next to in the sentence (its subject or predicate).
    A neighbour the source sentence lacks altogether is the support check's business."""
    if too_long(sentence):
        return False  # (`check` refuses it first; this keeps a direct call linear too)
    source = evidence.sentences[index]
    source_seq = evidence.sentence_sequences[index]
    seq = terms(sentence)
    for claim in claims(sentence):
        if fold(claim) not in source:
            return False
        for stem_ in terms(claim):
            if stem_ not in seq or stem_ not in source_seq:
                continue
            at = seq.index(stem_)
            neighbours = [
                w
                for w in seq[max(0, at - 1) : at + 2]
                if w != stem_ and not any(w == t for c in claims(sentence) for t in terms(c))
            ]
            where = [j for j, w in enumerate(source_seq) if w == stem_]
            for word in neighbours:
                places = [j for j, w in enumerate(source_seq) if w == word]
                if places and not any(abs(a - b) <= BIND_WINDOW for a in where for b in places):
                    return False
    return True
