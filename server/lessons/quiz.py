"""Check-your-understanding questions, and grading the learner's answers.

Questions: a key sentence with its fact left off the end ("Current estimates put it in
…", expected answer "Q1-Q2 2026"). The fact is a name, number or date that closes a
clause, so the question is always a grammatical sentence start and the expected answer is
the article's own words. Grading: the share of the expected answer's key terms (stems,
names, numbers) the learner said: all or nearly all is right, some is partly, none is
not yet. It judges the answer, not the amount of text: a reply that holds the answer
among many words of its own (a pasted paragraph, a list of guesses) is at most partly
right. Feedback quotes the source sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from server.reason.cite import Source
from server.reason.ground import MONTHS, NUMBER_WORDS
from server.reason.text import terms

if TYPE_CHECKING:
    from server.lessons.script import Sentence
    from server.store import Article

Grade = Literal["right", "partly", "not_yet"]
RIGHT_SHARE = 0.75
# A right answer may come with a few content words of the learner's own ("I think they
# planned it for ..."), and fit in what one says in one breath; past either it is
# reading out or guessing wide, and holding the answer is not knowing it.
OWN_TERMS = 8
MAX_REPLY_WORDS = 60
# Words that belong to the fact in front of it: "by [end of 2025]", "[hundreds of] millions".
LEADS = {
    "end",
    "start",
    "early",
    "late",
    "mid",
    "about",
    "over",
    "nearly",
    "almost",
    "around",
    "of",
    "some",
}
CONNECTORS = {"and", "of", "or", "to", "-", "&"}
CLAUSE_END = re.compile(r"[.,;:!?)]$")
PROMPT = "Complete this sentence from the article:"


@dataclass
class QuizQuestion:
    index: int
    question: str  # what is shown and spoken
    answer: str  # the expected answer, the article's own words
    source: Source  # the sentence it comes from, verbatim


@dataclass(frozen=True)
class Graded:
    grade: Grade
    share: float
    feedback: str


def _core(token: str) -> str:
    return token.strip("“”\"'‘’()[],.;:!?").removesuffix("’s").removesuffix("'s")


def _is_fact(token: str) -> bool:
    core = _core(token)
    lower = core.lower()
    return bool(core) and (
        any(c.isdigit() for c in core)
        or lower in NUMBER_WORDS
        or lower in MONTHS
        or core[0].isupper()
    )


def cloze(sentence: str) -> tuple[str, str, float] | None:
    """(prefix, answer, score) for the best fact that ends a clause, or None. Dates and
    numbers make better questions than names; a question needs a few words of lead-in."""
    tokens = sentence.split()
    best: tuple[str, str, float] | None = None
    for i in range(4, len(tokens)):
        if not _is_fact(tokens[i]) or _is_fact(tokens[i - 1]):
            continue  # start at the first word of the fact
        start = i
        while start > 4 and tokens[start - 1].lower() in LEADS:
            start -= 1
        end = i
        while not CLAUSE_END.search(tokens[end]) and end + 1 < len(tokens) and end - start < 5:
            nxt = tokens[end + 1]
            unit = CLAUSE_END.search(nxt) and nxt[0].islower()  # "128K tokens."
            if not (_is_fact(nxt) or nxt.lower() in CONNECTORS or unit):
                break
            end += 1
        if not (CLAUSE_END.search(tokens[end]) or end == len(tokens) - 1):
            continue  # the fact must close a clause, or the blank reads oddly
        answer = _tidy(" ".join(tokens[start : end + 1]))
        prefix = " ".join(tokens[:start]).rstrip(" ,—–-(:")
        if not terms(answer) or len(prefix.split()) > 28:
            continue
        numeric = any(c.isdigit() for c in answer) or any(
            w.lower() in NUMBER_WORDS | MONTHS for w in answer.split()
        )
        # An acronym alone ("the … AI space") is a weak question.
        vague = all(len(_core(w)) <= 3 or not _is_fact(w) for w in answer.split())
        score = (1.0 if numeric else 0.4 if vague else 0.7) - 0.01 * len(prefix.split())
        if best is None or score > best[2]:
            best = (prefix, answer, score)
    return best


def _tidy(answer: str) -> str:
    """The fact without its closing punctuation or quotes; a parenthesis kept only whole."""
    answer = answer.rstrip(".,;:!?").strip("“”\"'‘’")
    if answer.endswith(")") and "(" not in answer:
        answer = answer[:-1]
    return answer.lstrip("(")


def make_question(article: Article, sentence: Sentence) -> QuizQuestion | None:
    found = cloze(sentence.text)
    if found is None:
        return None
    prefix, answer, _ = found
    return QuizQuestion(
        0,
        f"{PROMPT} {prefix} …",
        answer,
        Source(article.id, article.title, sentence.text, sentence.paragraph),
    )


def pick_questions(
    preferred: list[tuple[Article, Sentence]],
    fallback: list[tuple[Article, Sentence]],
    *,
    limit: int = 3,
    per_article: int = 3,
) -> list[QuizQuestion]:
    """Up to `limit` questions, one per paragraph, in article order. Key points count
    extra (the quiz checks what was taught), but a date or number from elsewhere in the
    article beats a vague name."""
    ranked: dict[tuple[int, str], tuple[float, Article, Sentence]] = {}
    for bonus, group in ((0.25, preferred), (0.0, fallback)):
        for article, sentence in group:
            found = cloze(sentence.text)
            key = (article.id, sentence.text)
            if found and sentence.score > -0.5 and key not in ranked:
                ranked[key] = (found[2] + sentence.score + bonus, article, sentence)
    picked: list[tuple[int, int, QuizQuestion]] = []
    seen: set[tuple[int, int]] = set()
    per: dict[int, int] = {}
    for _, article, sentence in sorted(ranked.values(), key=lambda r: -r[0]):
        where = (article.id, sentence.paragraph)
        if len(picked) >= limit or where in seen or per.get(article.id, 0) >= per_article:
            continue
        question = make_question(article, sentence)
        if question is not None:
            seen.add(where)
            per[article.id] = per.get(article.id, 0) + 1
            picked.append((article.id, sentence.paragraph, question))
    return [q for *_, q in sorted(picked, key=lambda p: (p[0], p[1]))]


def key_terms(question: QuizQuestion) -> set[str]:
    """The expected answer's terms that the question itself doesn't give away."""
    expected = set(terms(question.answer))
    return (expected - set(terms(question.question))) or expected


def grade(reply: str, question: QuizQuestion) -> Graded:
    """Right / partly / not yet, with spoken feedback that quotes the source sentence."""
    wanted = key_terms(question)
    said = set(terms(reply)) | set(terms(re.sub(r"\s+", "", reply)))  # "128 K" says "128K"
    share = len(wanted & said) / len(wanted) if wanted else 0.0
    quote = question.source.quote
    given = set(terms(question.answer)) | set(terms(question.question))
    own = [t for t in terms(reply) if t not in given]
    wordy = len(own) > OWN_TERMS + len(wanted) or len(reply.split()) > MAX_REPLY_WORDS
    if share >= RIGHT_SHARE and not wordy:
        return Graded("right", share, f"That's right. The article says: {quote}")
    if share >= RIGHT_SHARE:
        return Graded(
            "partly",
            share,
            "The answer is in there, with a lot else. In a few words: "
            f"{question.answer}. The article says: {quote}",
        )
    lead = "Partly right." if share > 0 else "Not yet."
    return Graded(
        "partly" if share > 0 else "not_yet",
        share,
        f"{lead} The answer is {question.answer}. The article says: {quote}",
    )
