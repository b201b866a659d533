"""Grading a learner's answer to a quiz question: right, partly, or not yet.

In: the reply (typed, a chosen option, or a speech transcript), the question, and the
sentence embedder when there is one. Out: `Graded`, with feedback that quotes the source.

- A chosen option is right or wrong as it stands.
- The answer's facts (numbers, dates, names, "early"/"end of") must all be said, as terms:
  embeddings put "end of 2026" as close to "end of 2025" as a paraphrase, so a fact is
  never judged by meaning. A reply that names another fact instead (a wrong year, another
  option's name) is not right however close its meaning.
- The rest is judged by meaning: the cosine of the reply and the answer (a paraphrase,
  "advertising and social networks" for "ads and social media", scores 0.75-0.85 with the
  bundled model; a wrong term 0.2-0.35), together with the share of the answer's key terms
  said. Without an embedder, the key terms alone.
- It judges the answer, not the amount of text: a reply that holds the answer among many
  words of its own (a pasted paragraph, a list of guesses) is at most partly right."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from server.lessons.items import QuizQuestion
from server.lessons.spans import DATE_LEADS, is_date_word, is_number
from server.reason.ground import claims
from server.reason.text import fold, stem, terms, words

if TYPE_CHECKING:
    from server.reason.index.embed import Embedder

Grade = Literal["right", "partly", "not_yet"]
RIGHT_SHARE = 0.75
# Cosine of reply and answer (all-MiniLM-L6, int8): a paraphrase scores 0.75 or more, a
# wrong term of the same kind under 0.4. A middling score with half the key terms said
# is still right ("from advertising and social media").
SIM_RIGHT = 0.8
SIM_WITH_TERMS = 0.65
SIM_PARTLY = 0.6
# A right answer may come with a few content words of the learner's own ("I think they
# planned it for ..."), and fit in what one says in one breath; past either it is
# reading out or guessing wide, and holding the answer is not knowing it.
OWN_TERMS = 8
MAX_REPLY_WORDS = 60
DIGITS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
UNIT_APART = re.compile(r"(\d)\s+([KMBkmb])\b")  # "128 K" -> "128K"
# A year said as "twenty twenty-five" comes out of the recogniser as "2020 5" or "20 25".
YEAR_APART = (
    (re.compile(r"\b((?:19|20)\d)0\s+([1-9])\b"), r"\1\2"),
    (re.compile(r"\b(19|20)\s+(\d\d)\b"), r"\1\2"),
)
FILLER = re.compile(
    r"^(?:(?:i think|i guess|maybe|it's|it is|it was|they are|the answer is|answer|um|uh)"
    r"[\s,:]+)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Graded:
    grade: Grade
    share: float
    feedback: str


def norm_terms(text: str) -> set[str]:
    """A text's terms, with "two" as "2" (and "one", a stopword, kept as "1")."""
    out = {DIGITS.get(t, t) for t in terms(text)}
    return out | {DIGITS[w] for w in words(text) if w in DIGITS}


def spoken(text: str) -> str:
    """A reply's numbers as written: "128 K" as "128K", "2020 5" as "2025"."""
    text = UNIT_APART.sub(r"\1\2", text)
    for pattern, joined in YEAR_APART:
        text = pattern.sub(joined, text)
    return text


def said_terms(text: str) -> set[str]:
    """The terms of a reply, with its numbers as written (see `spoken`)."""
    text = spoken(text)
    return norm_terms(text) | norm_terms(re.sub(r"\s+", "", text))


def fact_terms(text: str, names: bool = True) -> set[str]:
    """The terms of a text's facts: numbers, dates and their leads, and names (not for a
    reply: a transcript capitalises its first word, whatever it is)."""
    out: set[str] = set()
    for claim in claims(text) if names else []:
        out |= norm_terms(claim)
    for word in words(text):
        if is_number(word) or is_date_word(word) or word in DATE_LEADS - {"the"}:
            out |= norm_terms(word)
    return out


def key_terms(question: QuizQuestion) -> set[str]:
    """The expected answer's terms that the question itself doesn't give away."""
    expected = norm_terms(question.answer)
    return (expected - norm_terms(question.question)) or expected


def chosen_option(reply: str, question: QuizQuestion) -> str | None:
    """The option the reply is, if it is one (a button, or the option read out)."""
    said = _plain(FILLER.sub("", reply.strip()))
    for option in question.options:
        if said == _plain(option):
            return option
    return None


def _plain(text: str) -> str:
    return " ".join(stem(w) for w in words(text))


def grade(reply: str, question: QuizQuestion, *, embedder: Embedder | None = None) -> Graded:
    """Right / partly / not yet, with spoken feedback that quotes the source sentence.
    `embedder` (optional) judges the words that are not facts by meaning; it runs a
    model, so call this off the event loop when you pass one."""
    option = chosen_option(reply, question)
    if option is not None:
        right = _plain(option) == _plain(question.answer)
        return _graded("right" if right else "not_yet", float(right), question)
    wanted = key_terms(question)
    said = said_terms(reply)
    share = len(wanted & said) / len(wanted) if wanted else 0.0
    asked = norm_terms(question.question)
    facts = fact_terms(question.answer) - asked
    if question.kind == "person":  # "Zuckerberg" names "Mark Zuckerberg"
        facts = norm_terms(question.answer.split()[-1]) - asked or facts
    facts_said = len(facts & said) / len(facts) if facts else 1.0
    # Another fact where the answer's should be: "2025" for 2026, another option's name.
    answer = said_terms(question.answer)
    others = set().union(*(norm_terms(o) for o in question.options)) - answer
    wrong = fact_terms(spoken(reply), names=False) - answer
    wrong = (wrong | (others & said)) - asked
    numbers = {t for t in facts if any(c.isdigit() for c in t)}
    if numbers and not numbers <= said and any(any(c.isdigit() for c in t) for t in wrong):
        return _graded("not_yet", 0.0, question)  # "end of 2026" for "end of 2025"
    similarity = _similarity(reply, question.answer, embedder)
    if facts:
        right = facts_said == 1.0 and not wrong
        some = facts_said > 0 or share > 0
    else:
        right = not wrong and (
            share >= RIGHT_SHARE
            or similarity >= SIM_RIGHT
            or (similarity >= SIM_WITH_TERMS and share >= 0.5)
        )
        some = share > 0 or similarity >= SIM_PARTLY
    own = [t for t in terms(reply) if t not in answer | asked]
    wordy = len(own) > OWN_TERMS + len(wanted) or len(reply.split()) > MAX_REPLY_WORDS
    score = max(share, facts_said if facts else similarity)
    if right:
        return _graded("partly" if wordy else "right", score, question, wordy=wordy)
    if some and (not facts or facts_said > 0 or not wrong):
        return _graded("partly", score, question)
    return _graded("not_yet", score, question)


def _graded(grade: Grade, score: float, question: QuizQuestion, wordy: bool = False) -> Graded:
    """The grade with its spoken feedback, which always quotes the passage."""
    quote = question.source.quote
    if grade == "right":
        return Graded(grade, score, f"That's right. The article says: {quote}")
    if wordy:
        lead = "The answer is in there, with a lot else. In a few words:"
        return Graded(grade, score, f"{lead} {question.answer}. The article says: {quote}")
    lead = "Partly right." if grade == "partly" else "Not yet."
    return Graded(
        grade, score, f"{lead} The answer is {question.answer}. The article says: {quote}"
    )


def _similarity(reply: str, answer: str, embedder: Embedder | None) -> float:
    if embedder is None or not reply.strip():
        return 0.0
    vectors = embedder.encode([fold(reply), fold(answer)])
    return float(vectors[0] @ vectors[1])
