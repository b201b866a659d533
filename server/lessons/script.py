"""Lesson scripts, drafted from the articles without the LLM.

In: articles. Out: a `Script` per article (and one across all of them): an introduction,
the key points in the article's own order, a recap, and 2-3 quiz questions. Every segment
carries the article sentences it came from, quoted verbatim.

Extractive on purpose: the default LLM is tiny and invents facts, so the draft is made of
the article's own sentences (the most central sentence of each section) joined by a few
fixed phrases that state nothing. `build.py` may let the LLM rephrase a point into
spoken style, and keeps the rephrasing only when it passes the grounding check."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from server.core.documents import Article
from server.core.errors import TutorError
from server.lessons.items import QuizQuestion, Sentence
from server.lessons.quiz import pick_questions
from server.reason.answer.cite import Source
from server.reason.answer.sentences import spoken
from server.reason.ground import check, claims
from server.reason.text import fold, is_heading, sentences, terms
from server.reason.words import DEMONSTRATIVES, PERSONAL

log = logging.getLogger(__name__)
SCRIPT_VERSION = "4"  # bump when drafting changes: every lesson is rebuilt once
MIN_POINTS = 3
MAX_POINTS = 6
# The most sentences of one article a lesson is drafted from (about 30,000 words), and
# the fewest of each section when that budget is shared out: drafting time grows with the
# sentences scored, so this is what keeps one article's lesson from holding a core for
# minutes (a 2 MB article has some 20,000 sentences).
MAX_SENTENCES = 1500
MIN_PER_SECTION = 3
# Bounds on one sentence and one paragraph, so that no single one of them costs more than
# a fixed amount however it is made (checking a sentence grows with the square of its
# length: a table row 2,000 columns wide, or a text without full stops, is one "sentence"
# of thousands of words). A sentence past DRAFT_MAX_WORDS is left out of the lesson (no
# listener follows one that long, and the shape penalty already kept such sentences out
# of the points); a paragraph is read only to its first READ_MAX_CHARS characters (the
# sentence cut there is left out too). Both are logged.
DRAFT_MAX_WORDS = 80
READ_MAX_CHARS = 20_000
ANAPHORA_START = (PERSONAL | DEMONSTRATIVES) - {"its", "their", "them", "him", "her", "his", "such"}
ANAPHORA_START |= {"but", "and", "so", "there", "here", "then", "also"}


@dataclass
class Segment:
    index: int
    kind: str  # "intro" | "point" | "recap"
    text: str
    sources: list[Source]
    llm: bool = False  # the narration is the LLM's (verified) rephrasing


@dataclass
class Script:
    title: str
    article_id: int | None  # None: the lesson across all articles
    segments: list[Segment]
    quiz: list[QuizQuestion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Script:
        segments = [
            Segment(**{**s, "sources": [Source(**x) for x in s["sources"]]})
            for s in data["segments"]
        ]
        quiz = [QuizQuestion(**{**q, "source": Source(**q["source"])}) for q in data["quiz"]]
        return cls(data["title"], data["article_id"], segments, quiz)


def article_sentences(
    article: Article, limit: int = MAX_SENTENCES, stop: threading.Event | None = None
) -> list[Sentence]:
    """Sentences with their section (headings split sections; the lead is section 0),
    scored by centrality to their section and to the whole article, less a penalty for
    sentences that read badly out of context (questions, "That got delayed.", lead-ins).

    At most `limit` sentences are scored, the first ones of every section (a section's
    topic is in its heading and first sentences), so a lesson's cost has a ceiling however
    long its article is. `stop`, when set, abandons the work (raises BuildCancelled)."""
    sections: dict[int, list[tuple[str, int, int, str | None]]] = {}
    section, heading = 0, None
    too_long, longest, cut = 0, 0, 0
    for p_index, paragraph in enumerate(article.paragraphs):
        _check(stop)
        in_full = len(paragraph) <= READ_MAX_CHARS
        sents = sentences(paragraph if in_full else paragraph[:READ_MAX_CHARS])
        if not in_full:
            cut += 1
            sents = sents[:-1]  # the last one was cut short
        elif len(sents) == 1 and is_heading(paragraph):
            section, heading = section + 1, paragraph.strip()
            continue
        rows_here = sections.setdefault(section, [])
        for s in sents:
            if (n := len(s.split())) > DRAFT_MAX_WORDS:
                too_long, longest = too_long + 1, max(longest, n)
            else:
                rows_here.append((s, p_index, section, heading))
    if too_long or cut:
        log.info(
            "article %s: left out of its lesson %d sentences over %d words (the longest %d)"
            " and read %d paragraphs only to their first %d characters",
            article.id,
            too_long,
            DRAFT_MAX_WORDS,
            longest,
            cut,
            READ_MAX_CHARS,
        )
    per_section = max(MIN_PER_SECTION, limit // max(1, len(sections)))
    rows = [r for here in sections.values() for r in here[:per_section]][:limit]
    first_in_section: dict[int, int] = {}
    for i, row in enumerate(rows):
        first_in_section.setdefault(row[2], i)
    vectors = _tfidf([terms(r[0]) for r in rows])
    whole = _centroid(vectors)
    totals: dict[int, dict[str, float]] = {}
    for v, row in zip(vectors, rows, strict=True):
        total = totals.setdefault(row[2], {})
        for t, w in v.items():
            total[t] = total.get(t, 0.0) + w
    norms = {sec: sum(w * w for w in total.values()) for sec, total in totals.items()}
    out = []
    for i, (text, p_index, sec, head) in enumerate(rows):
        _check(stop)
        # Centrality to the rest of its section: the section's sum less this sentence
        # (one pass, where summing the others for each sentence grew with its square).
        score = 0.6 * _cosine_to_rest(vectors[i], totals[sec], norms[sec])
        score += 0.4 * _cosine(vectors[i], whole)
        # A section's topic is in its heading and its first sentences.
        head_terms = set(terms(head or ""))
        if head_terms:
            score += 0.15 * len(head_terms & set(terms(text))) / len(head_terms)
        score -= 0.01 * (i - first_in_section[sec])
        out.append(Sentence(text, p_index, sec, head, score - _shape_penalty(text)))
    return out


class BuildCancelled(Exception):
    """The lesson being drafted is no longer wanted (its article changed or went)."""


class LessonError(TutorError):
    """A lesson that cannot be built, and why (shown in the lesson list): `nothing_to_teach`
    (no sentence of its article is short enough to teach from), `build_timeout` (the
    build took longer than build.BUILD_BUDGET_S)."""

    code = "lesson_failed"


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise BuildCancelled


def _shape_penalty(text: str) -> float:
    n = len(text.split())
    first = fold(text.split()[0]).strip("“\"'") if text.split() else ""
    penalty = 0.0
    if n < 6 or text.endswith(("?", ":")):
        penalty += 1.0  # labels ("Revenue pressure."), questions and lead-ins aren't points
    if n > 32:
        penalty += 0.15 + 0.01 * (n - 32)  # long sentences are hard to follow by ear
    if first in ANAPHORA_START:
        penalty += 0.2  # needs the sentence before it
    if not check(text, text).ok:
        penalty += 1.0  # e.g. reads like a refusal: the grounding check would reject it
    return penalty


def _tfidf(docs: list[list[str]]) -> list[dict[str, float]]:
    df = Counter(t for d in docs for t in set(d))
    n = len(docs)
    return [{t: c * math.log(1 + n / df[t]) for t, c in Counter(d).items()} for d in docs]


def _centroid(vectors: list[dict[str, float]]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for v in vectors:
        total.update(v)
    return dict(total)


def _cosine_to_rest(v: dict[str, float], total: dict[str, float], total_norm2: float) -> float:
    """cos(v, total - v), from the total's squared norm, in time linear in v."""
    dot_total = sum(w * total.get(t, 0.0) for t, w in v.items())
    own = sum(w * w for w in v.values())
    dot = dot_total - own
    rest = total_norm2 - 2 * dot_total + own
    norm = math.sqrt(own) * math.sqrt(rest) if rest > 1e-12 else 0.0
    return dot / norm if norm else 0.0


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def key_points(sents: list[Sentence], limit: int = MAX_POINTS) -> list[Sentence]:
    """The best sentence of each section after the lead, in article order; when an article
    has too few sections, the next most central sentences fill up to MIN_POINTS."""
    usable = [s for s in sents if s.score > -0.5]
    best: dict[int, Sentence] = {}
    for s in usable:
        if s.section > 0 and (s.section not in best or s.score > best[s.section].score):
            best[s.section] = s
    points = sorted(best.values(), key=lambda s: -s.score)[:limit]
    for s in sorted(usable, key=lambda s: -s.score):
        if len(points) >= MIN_POINTS:
            break
        if s not in points and (s.section > 0 or len(usable) <= MIN_POINTS + 1):
            points.append(s)
    return sorted(points, key=sents.index)


def lead(sents: list[Sentence], exclude: list[Sentence]) -> Sentence | None:
    """The article's opening idea: the best sentence of the lead section, else the first."""
    pool = [s for s in sents if s.section == 0 and s not in exclude and s.score > -0.5]
    if pool:
        return max(pool, key=lambda s: s.score - 0.02 * sents.index(s))
    rest = [s for s in sents if s not in exclude]
    return rest[0] if rest else None


def main_idea(sents: list[Sentence], exclude: list[Sentence]) -> Sentence | None:
    """The article's conclusion: the best sentence of its last section that is not already
    a point (else of the whole article)."""
    pool = [s for s in sents if s not in exclude and s.score > -0.5]
    last = [s for s in pool if s.section == max(x.section for x in pool)] if pool else []
    return max(last or pool, key=lambda s: s.score) if pool else None


def say(text: str) -> str:
    """Spoken style: no markdown, dashes as pauses, one line."""
    text = spoken(text).replace(" — ", ", ").replace(" – ", ", ")
    return re.sub(r"\s+", " ", text).strip()


def draft(article: Article, stop: threading.Event | None = None) -> Script:
    """The extractive lesson for one article (`stop`: see `article_sentences`)."""
    sents = article_sentences(article, stop=stop)
    if not sents:
        raise LessonError(
            f"no sentence of {article.title[:64]!r} is short enough to teach from"
            f" (each is over {DRAFT_MAX_WORDS} words)",
            code="nothing_to_teach",
        )
    points = key_points(sents)
    _check(stop)
    opening = lead(sents, points)
    segments = [_intro(article.title, [(article, opening)] if opening else [])]
    segments += [Segment(0, "point", say(p.text), [p.source(article)]) for p in points]
    closing = main_idea(sents, points + ([opening] if opening else []))
    headings = [(article, p) for p in points if p.heading and not p.heading.endswith("?")]
    segments.append(_recap(headings, [(article, closing)] if closing else []))
    _check(stop)
    quiz = pick_questions([(article, p) for p in points], [(article, s) for s in sents])
    return _numbered(Script(article.title, article.id, segments, quiz))


def draft_all(articles: list[Article], stop: threading.Event | None = None) -> Script:
    """The lesson across all articles: each article's lead and its best points."""
    per = max(1, MAX_POINTS // max(1, len(articles)))
    intro_from, points, closings, candidates = [], [], [], []
    all_sents: list[tuple[Article, Sentence]] = []
    for article in articles:
        sents = article_sentences(article, stop=stop)
        best = sorted(key_points(sents), key=lambda s: -s.score)[:per]
        mine = sorted(best, key=sents.index)
        opening = lead(sents, mine)
        if opening:
            intro_from.append((article, opening))
        points += [(article, p) for p in mine]
        if closing := main_idea(sents, mine + ([opening] if opening else [])):
            closings.append((article, closing))
        candidates += [(article, p) for p in mine]
        all_sents += [(article, s) for s in sents]
    if not all_sents:
        raise LessonError(
            f"no sentence of the articles is short enough to teach from (each is over"
            f" {DRAFT_MAX_WORDS} words)",
            code="nothing_to_teach",
        )
    _check(stop)
    segments = [_intro("all the articles", intro_from[:3], across=True)]
    segments += [Segment(0, "point", say(p.text), [p.source(a)]) for a, p in points]
    segments.append(_recap([], closings[:3]))
    _check(stop)
    quiz = pick_questions(candidates, all_sents, per_article=1 if len(articles) > 2 else 2)
    return _numbered(Script("All the articles", None, segments, quiz))


def _intro(title: str, openings: list[tuple[Article, Sentence]], across: bool = False) -> Segment:
    first = (
        "This lesson brings all the articles together."
        if across
        else f"This lesson is about {title.rstrip('.')}."
    )
    text = " ".join([first] + [say(s.text) for _, s in openings] + ["Here are the key points."])
    return Segment(0, "intro", text, [s.source(a) for a, s in openings])


def _recap(
    headings: list[tuple[Article, Sentence]], closings: list[tuple[Article, Sentence]]
) -> Segment:
    parts = ["To recap."]
    names = list(dict.fromkeys(s.heading for _, s in headings if s.heading))
    if len(names) >= 2:
        parts.append(f"We looked at {', '.join(names[:-1])}, and {names[-1]}.")
    parts += [say(s.text) for _, s in closings]
    sources = [
        Source(a.id, a.title, s.heading or "", a.paragraphs.index(s.heading))
        for a, s in headings
        if s.heading in a.paragraphs
    ]
    sources = list({(x.article_id, x.quote): x for x in sources}.values())
    return Segment(0, "recap", " ".join(parts), sources + [s.source(a) for a, s in closings])


def _numbered(script: Script) -> Script:
    for i, segment in enumerate(script.segments):
        segment.index = i
    for i, question in enumerate(script.quiz):
        question.index = i
    return script


def verified(segment: Segment, extra_context: str = "") -> bool:
    """Every name, number and date in the segment stands in its sources (or the lesson's
    title), and every sentence that isn't one of our fixed phrases passes the grounding
    check against its sources."""
    context = " ".join(
        [s.quote for s in segment.sources] + [s.title for s in segment.sources] + [extra_context]
    )
    for sentence in sentences(segment.text):
        if sentence in FIXED or sentence.startswith(("This lesson is about", "We looked at")):
            if any(not _stands_in(c, context) for c in claims(sentence)):
                return False
        elif not check(sentence, context).ok:
            return False
    return True


FIXED = {"To recap.", "Here are the key points.", "This lesson brings all the articles together."}


def _stands_in(claim: str, context: str) -> bool:
    return fold(claim).strip("“”\"'’") in fold(context)
