"""Check-your-understanding questions for a lesson, and grading the learner's answers.

Questions (questions.py): real questions made from key sentences by rule, "When did Meta
go all-in on the open-source message?" (expected answer "April 2025"), whose answer is a
date, amount, name, term or reason in the sentence, verbatim. Where a sentence yields
none, a fill-in-the-blank of it ("Complete this sentence from the article: ..."), only
where the blank is a content term: a date, a number or a name, never an acronym alone.
Each question has multiple-choice `options` when the articles hold at least two wrong
answers of its kind (facts.py); a typed or spoken free answer works as well.

Grading: grading.py (right / partly / not yet; feedback quotes the source sentence)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from server.lessons.facts import Facts, shuffled
from server.lessons.grading import Grade, Graded, grade, key_terms
from server.lessons.items import QuizQuestion, Sentence
from server.lessons.questions import Item, answer_pool, generate
from server.lessons.spans import date_spans, is_acronym, number_spans
from server.reason.answer.cite import Source
from server.reason.text import STOPWORDS, terms
from server.reason.words import MONTHS, NUMBER_WORDS

if TYPE_CHECKING:
    from server.core.documents import Article

__all__ = ["Grade", "Graded", "QuizQuestion", "cloze", "grade", "key_terms", "pick_questions"]
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


# Preferences when picking a lesson's questions: a real question over a blank, one with
# options over one without, a short question over a long one, and not an answer the
# lesson's title gives away ("Which company ...? Meta" in a lesson about Meta).
CLOZE_SCORE = 0.2
OPTIONS_BONUS = 0.3
TITLE_PENALTY = 0.4
MIN_DISTRACTORS = 2
# Questions are sought in the key points and the most central sentences past them: a
# question from anywhere else would lose to these anyway, and a long article's quiz then
# costs no more than a short one's (the facts for wrong options still come from all).
MAX_CANDIDATES = 150


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
        # An acronym alone ("the … AI space") or a stopword is no content term to ask for.
        content = [w for w in answer.split() if _is_fact(w) and _core(w).lower() not in STOPWORDS]
        if not numeric and all(is_acronym(_core(w)) or len(_core(w)) <= 3 for w in content):
            continue
        score = (1.0 if numeric else 0.7) - 0.01 * len(prefix.split())
        if best is None or score > best[2]:
            best = (prefix, answer, score)
    return best


def _tidy(answer: str) -> str:
    """The fact without its closing punctuation or quotes; a parenthesis kept only whole."""
    answer = answer.rstrip(".,;:!?").strip("“”\"'‘’")
    if answer.endswith(")") and "(" not in answer:
        answer = answer[:-1]
    return answer.lstrip("(")


def candidates(
    article: Article, sentence: Sentence, facts: Facts
) -> list[tuple[float, QuizQuestion]]:
    """The questions one sentence gives with their scores, best first: real questions
    (with options where the articles hold enough wrong answers of the kind), then its
    fill-in blank."""
    source = Source(article.id, article.title, sentence.text, sentence.paragraph)
    title = set(terms(article.title))
    ranked: list[tuple[float, QuizQuestion]] = []
    for item in generate(sentence.text, facts):
        question = _with_options(item, source, facts)
        score = item.score + (OPTIONS_BONUS if question.options else 0.0)
        score -= 0.01 * max(0, len(item.question.split()) - 12)
        if set(terms(item.answer)) <= title:
            score -= TITLE_PENALTY
        ranked.append((score, question))
    found = cloze(sentence.text)
    if found is not None:
        prefix, answer, score = found
        blank = Item(f"{PROMPT} {prefix} …", answer, _fact_kind(sentence.text, answer), 0.0)
        question = _with_options(blank, source, facts)
        question.kind = "cloze"
        ranked.append((CLOZE_SCORE + 0.2 * score, question))
    ranked.sort(key=lambda r: -r[0])
    return ranked


def _with_options(item: Item, source: Source, facts: Facts) -> QuizQuestion:
    wrong = facts.distractors(item.answer, item.kind, item.question)
    options = shuffled(item.answer, wrong, item.question) if len(wrong) >= MIN_DISTRACTORS else []
    return QuizQuestion(0, item.question, item.answer, source, options, item.kind)


def _fact_kind(sentence: str, answer: str) -> str:
    """A blank's kind, for its wrong options: the date or number it is, else a name."""
    tokens = sentence.split()
    for span in date_spans(tokens) + number_spans(tokens):
        if span.text == answer:
            return span.kind
    return "name"


def pick_questions(
    preferred: list[tuple[Article, Sentence]],
    fallback: list[tuple[Article, Sentence]],
    *,
    limit: int = 4,
    per_article: int = 4,
) -> list[QuizQuestion]:
    """Up to `limit` questions, one per paragraph and one per answer, in article order.
    Key points count extra (the quiz checks what was taught); a real question beats a
    fill-in blank whatever its sentence. Wrong options come from all of `fallback`'s
    sentences (the lesson's articles). Deterministic: the same script, the same quiz."""
    facts = Facts.of([s.text for _, s in fallback])
    distinct = {s.text: (a, s) for a, s in reversed(fallback)}  # each text once, first kept
    central = sorted(distinct.values(), key=lambda pair: -pair[1].score)[:MAX_CANDIDATES]
    answer_pool([s.text for _, s in central], facts)
    ranked: dict[tuple[int, str], tuple[float, QuizQuestion, Article, Sentence]] = {}
    for bonus, group in ((0.25, preferred), (0.0, central)):
        for article, sentence in group:
            key = (article.id, sentence.text)
            if sentence.score <= -0.5 or key in ranked:
                continue
            found = candidates(article, sentence, facts)
            if found:
                score, best = found[0]
                ranked[key] = (score + sentence.score + bonus, best, article, sentence)
    picked: list[tuple[int, int, QuizQuestion]] = []
    seen: set[tuple[int, int]] = set()
    answers: set[str] = set()
    per: dict[int, int] = {}
    for _, question, article, sentence in sorted(ranked.values(), key=lambda r: -r[0]):
        where = (article.id, sentence.paragraph)
        said = question.answer.lower()
        if len(picked) >= limit or where in seen or per.get(article.id, 0) >= per_article:
            continue
        if said in answers:
            continue  # one question per answer: "Meta" twice teaches nothing new
        if any(_alike(question, other) for *_, other in picked):
            continue  # "How long was Meta the champion ...?" twice, from two articles
        seen.add(where)
        answers.add(said)
        per[article.id] = per.get(article.id, 0) + 1
        picked.append((article.id, sentence.paragraph, question))
    return [q for *_, q in sorted(picked, key=lambda p: (p[0], p[1]))]


def _alike(a: QuizQuestion, b: QuizQuestion) -> bool:
    """Two questions that ask much the same (half their terms shared)."""
    one, two = set(terms(a.question)), set(terms(b.question))
    return bool(one and two) and len(one & two) >= 0.5 * min(len(one), len(two))
