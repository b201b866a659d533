"""One question, one trace: why it was answered or declined, and with what.

A `Trace` holds the question as parsed, the passages retrieval found (each score with its
parts), the coverage decision (the rule that decided it, the probability, the features),
the extractor's best sentences, the answer's sentences with their scores, whether the LLM
answered or why its answer was replaced, and each grounding check of what it wrote.

`respond.Answerer` builds it from what the answer path computed anyway: nothing is parsed,
retrieved or scored again for it. `tutor ask --explain` prints it (`render`), `/api/ask`
with `"explain": true` returns it (`to_dict`). Commands ("say that again") have none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from server.reason import ground
from server.reason.answer.gate import Decision
from server.reason.index.lookup import (
    BM25_WEIGHT,
    COVERAGE_WEIGHT,
    DENSE_WEIGHT,
    METADATA_BOOST,
    PREFER_BOOST,
    Hit,
)
from server.reason.query.question import Question

TOP_SENTENCES = 5  # the extractor's best sentences a trace keeps


@dataclass(frozen=True)
class Parsed:
    """The question as the answer path read it."""

    text: str  # for a follow-up, the question completed by the one before
    search_text: str  # corrected, talk around it dropped: what was looked up
    kind: str  # the kind of answer asked for (`query.kinds.answer_type`)
    terms: tuple[str, ...]  # its stems, as the index spells them
    entities: tuple[str, ...]  # the names it says
    unknown_entities: tuple[str, ...]  # names the articles never mention
    corrections: tuple[tuple[str, str], ...]  # (heard, meant)
    about_article: bool  # it asks about an article's details (author, title, ...)

    @classmethod
    def of(cls, question: Question) -> Parsed:
        return cls(
            question.text,
            question.search_text,
            question.kind,
            tuple(question.terms),
            question.entities,
            question.unknown_entities,
            question.corrections,
            question.about_article,
        )


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage and its fused score's parts (`lookup.Index.search`):
    score = DENSE_WEIGHT * dense + COVERAGE_WEIGHT * coverage + BM25_WEIGHT * bm25 + boost."""

    passage_id: int
    article_id: int
    article_title: str
    paragraph: int
    kind: str  # "prose", "item", "row" or "meta"
    heading: str | None
    score: float
    dense: float  # the closest sentence's cosine with the question
    coverage: float  # the IDF-weighted share of the question's words it holds
    bm25: float  # BM25, as a share of the best passage's
    boost: float  # for the article preferred (a lesson's, or named) and for details
    matched: tuple[str, ...]  # the question's stems it holds

    @classmethod
    def of(cls, hit: Hit, preferred: int | None) -> Candidate:
        p = hit.passage
        boost = (METADATA_BOOST if p.is_metadata else 0.0) + (
            PREFER_BOOST if preferred is not None and p.article_id == preferred else 0.0
        )
        # Search keeps the fused score, not BM25's part of it: what the others leave.
        rest = hit.score - DENSE_WEIGHT * hit.dense - COVERAGE_WEIGHT * hit.coverage - boost
        return cls(
            p.id,
            p.article_id,
            p.article_title,
            p.paragraph,
            getattr(p, "kind", "meta" if p.is_metadata else "prose"),
            p.heading,
            float(hit.score),
            float(hit.dense),
            float(hit.coverage),
            round(max(0.0, rest / BM25_WEIGHT), 6),
            boost,
            tuple(sorted(hit.matched)),
        )


@dataclass(frozen=True)
class Sentence:
    """An article sentence as the extractor scored it (`Extractor.candidates`), or an
    answer sentence with the score of the article sentence it is (or is cut from); None
    where it is none of them (the LLM's own words, a paragraph's next sentence)."""

    sentence: str
    score: float | None = None
    passage_id: int | None = None


@dataclass(frozen=True)
class Grounding:
    """One check of a sentence the LLM wrote (`ground.check`)."""

    sentence: str
    ok: bool
    support: float
    unsupported: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Judged:
    """One sentence the LLM reader judged (`judge.py`): P(yes) that it answers."""

    sentence: str
    p_yes: float
    passage_id: int | None = None


@dataclass(frozen=True)
class Reading:
    """What the LLM reader (TUTOR_READER=llm) made of the extractor's best sentences:
    "picked" (the best-judged one leads the answer), "declined" (none reached the
    threshold: the tutor declined), "failed" (`error`; the rules' answer stands)."""

    judged: tuple[Judged, ...]
    threshold: float
    outcome: str
    error: str | None = None


@dataclass(frozen=True)
class Trace:
    asked: str  # the turn's text, as the learner said it
    question: Parsed
    candidates: tuple[Candidate, ...]
    decision: Decision
    threshold: float
    extractor: tuple[Sentence, ...] = ()  # its best sentences, best first
    answer: tuple[Sentence, ...] = ()  # the sentences said
    # "answered": the LLM's verified sentences; "replaced": it wrote, and what it wrote
    # was replaced by the article's sentences (`fallback` says why); "not asked": no LLM
    # or none tried (`fallback` says why); "" for a decline.
    llm: str = ""
    fallback: str | None = None
    grounding: tuple[Grounding, ...] = ()
    reading: Reading | None = None  # the LLM reader's judgements; None when it is off

    @property
    def follow_up(self) -> bool:
        """Whether the question answered was completed by the one before."""
        return self.question.text != self.asked

    def to_dict(self) -> dict[str, Any]:
        return {**_plain(asdict(self)), "follow_up": self.follow_up}

    def render(self) -> str:
        q = self.question
        lines = [f"question: {self.asked}"]
        if self.follow_up:
            lines.append(f"  as a follow-up: {q.text}")
        if q.search_text != q.text:
            lines.append(f"  searched as: {q.search_text}")
        lines.append(f"  kind: {q.kind}   terms: {', '.join(q.terms) or '-'}")
        lines.append(
            f"  names: {', '.join(q.entities) or '-'}"
            f"   unknown: {', '.join(q.unknown_entities) or '-'}"
            + ("   about an article: yes" if q.about_article else "")
        )
        if q.corrections:
            lines.append("  corrected: " + ", ".join(f"{a} -> {b}" for a, b in q.corrections))
        lines.append(
            f"candidates ({len(self.candidates)}): score = {DENSE_WEIGHT:g} dense"
            f" + {COVERAGE_WEIGHT:g} coverage + {BM25_WEIGHT:g} bm25 + boost"
        )
        for n, c in enumerate(self.candidates, 1):
            where = f"¶{c.paragraph}" if c.kind != "meta" else "details"
            heading = f" [{c.heading}]" if c.heading else ""
            boost = f" boost {c.boost:.2f}" if c.boost else ""
            title = c.article_title.split(": ")[0].strip()  # its short form
            lines.append(
                f"  {n}. #{c.passage_id} {title} {where} {c.kind}{heading}: "
                f"{c.score:.3f} = dense {c.dense:.3f} coverage {c.coverage:.3f} "
                f"bm25 {c.bm25:.3f}{boost}"
            )
        d = self.decision
        verdict = "answer" if d.answerable else "decline"
        lines.append(
            f"decision: {verdict} (rule {d.rule}, p {d.probability:.3f}, "
            f"threshold {self.threshold:.2f})" + (f": {d.reason}" if d.reason else "")
        )
        if d.features:
            lines.append("  features: " + " ".join(f"{k} {v:.3f}" for k, v in d.features.items()))
        if self.extractor:
            lines.append("extractor's best sentences:")
            lines.extend(f"  {_scored(s)}" for s in self.extractor)
        if self.reading is not None:
            r = self.reading
            lines.append(f"reader (LLM): {r.outcome} (threshold {r.threshold:.2f})"
                         + (f": {r.error}" if r.error else ""))  # fmt: skip
            lines.extend(f"  p(yes) {j.p_yes:.3f} #{j.passage_id} {j.sentence}" for j in r.judged)
        if self.answer:
            how = {
                "answered": "the LLM's, verified",
                "replaced": f"the articles' (the LLM's was replaced: {self.fallback})",
                "not asked": f"the articles' (LLM not asked: {self.fallback})",
            }.get(self.llm, self.llm)
            lines.append(f"answer: {how}")
            lines.extend(f"  {_scored(s)}" for s in self.answer)
        if self.grounding:
            lines.append("grounding:")
            for g in self.grounding:
                verdict = "ok  " if g.ok else "FAIL"
                why = f" {g.reason}" if g.reason else ""
                missing = f" unsupported: {', '.join(g.unsupported)}" if g.unsupported else ""
                lines.append(f"  {verdict} support {g.support:.2f}{why}{missing}: {g.sentence}")
        return "\n".join(lines)


def _scored(s: Sentence) -> str:
    score = f"{s.score:.3f}" if s.score is not None else "  -  "
    where = f"#{s.passage_id}" if s.passage_id is not None else "-"
    return f"{score} {where} {s.sentence}"


def _plain(value: Any) -> Any:
    """JSON's types: tuples as lists, numpy's floats as floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):  # numpy.float64 is one
        return float(value)
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        return value.item()
    return value


def scored(
    ranked: list[tuple[float, int, int]], hits: list[Hit], limit: int = TOP_SENTENCES
) -> tuple[Sentence, ...]:
    """The extractor's best `limit` candidates (`Extractor.candidates` of `hits`)."""
    return tuple(
        Sentence(hits[rank].passage.sentences[i], float(score), hits[rank].passage.id)
        for score, rank, i in ranked[:limit]
    )


def answer_sentences(
    said: list[str], ranked: list[tuple[float, int, int]], hits: list[Hit]
) -> tuple[Sentence, ...]:
    """Each sentence said, with the score of the best candidate it is, or was cut from
    (`extract.focus` keeps a clause of a long sentence, capitalised, with a full stop;
    a list's lead-in ends in a full stop, not its colon)."""
    out = []
    for sentence in said:
        core = sentence.strip().rstrip(".").lower()
        match = next(
            (
                (score, hits[rank].passage.id)
                for score, rank, i in ranked
                if core and core in hits[rank].passage.sentences[i].lower()
            ),
            None,
        )
        out.append(Sentence(sentence, *(match or (None, None))))
    return tuple(out)


def trace_of(
    asked: str,
    question: Question,
    hits: list[Hit],
    decision: Decision,
    threshold: float,
    preferred: int | None,
    *,
    widened: list[Hit] | None = None,
    ranked: list[tuple[float, int, int]] | None = None,
    said: list[str] | None = None,
    llm: str = "",
    fallback: str | None = None,
    checks: list[tuple[str, ground.Check]] | None = None,
    reading: Reading | None = None,
) -> Trace:
    """A turn's trace. `hits`: retrieval's, as the gate weighed them; `preferred`: the
    article search favoured; `widened`, `ranked`: the hits the answer was chosen from and
    their `Extractor.candidates`; `said`: the answer's sentences; `checks`: each
    sentence the LLM wrote, with its grounding check; `reading`: the LLM reader's."""
    widened = widened if widened is not None else hits
    ranked = ranked or []
    return Trace(
        asked,
        Parsed.of(question),
        tuple(Candidate.of(h, preferred) for h in hits),
        decision,
        threshold,
        scored(ranked, widened),
        answer_sentences(said or [], ranked, widened),
        llm,
        fallback,
        tuple(
            Grounding(s, c.ok, float(c.support), tuple(c.unsupported), c.reason)
            for s, c in checks or []
        ),
        reading,
    )
