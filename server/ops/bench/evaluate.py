"""`tutor eval FILE`: run a question file through the answer path and score it.

File format (as ../shared/eval/qa_public.json): a list of
  {"q": question, "any": [facts, one must appear]}  or  {"all": [...]}  or
  {"q": question, "abstain": true}, each optionally with a "kind" (paraphrase, misheard...).
Scores: facts found in answerable items, abstention precision and recall, answers
containing a name or number absent from their own quoted sources (should be 0), answer
length, retrieval time. `summary()` computes them for the CLI and the tests alike."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.reason import ground
from server.reason.answer import gate
from server.reason.answer.cite import Source
from server.reason.answer.respond import Answer, Answerer, answer


@dataclass
class Result:
    question: str
    expected: str
    answer: Answer
    passed: bool
    unsupported: list[str]
    seconds: float
    kind: str = ""
    features: dict[str, float] | None = None


FACTUAL = {"factual", "metadata", "misheard", "paraphrase", "informal"}
# Questions declined by these rules (`gate.RULES`) are left out of the gate's fit: they
# name what the articles never mention ("the articles never ..."), whatever the features.
UNFITTED = ("unknown_entity", "unknown_actor")


def summary(results: list[Result]) -> dict[str, float]:
    """The eval's figures. Abstention precision: of the questions declined, the share that
    should have been; recall: of those that should have been, the share declined."""
    import statistics

    answerable = [r for r in results if r.expected != "abstain"]
    should = [r for r in results if r.expected == "abstain"]
    declined = [r for r in results if not r.answer.grounded]
    right_declines = sum(1 for r in declined if r.expected == "abstain")
    lengths = [
        len(r.answer.text.split())
        for r in answerable
        if r.answer.grounded and (r.kind in FACTUAL or not r.kind)
    ]
    retrieval = sorted(r.answer.timings.get("retrieval", 0.0) * 1000 for r in results)
    return {
        "answerable": len(answerable),
        "facts_found": sum(r.passed for r in answerable),
        "out_of_scope": len(should),
        "declined_right": sum(r.passed for r in should),
        "abstain_precision": right_declines / len(declined) if declined else 1.0,
        "abstain_recall": right_declines / len(should) if should else 1.0,
        "unsupported": sum(1 for r in results if r.unsupported),
        "median_words": statistics.median(lengths) if lengths else 0.0,
        "retrieval_p50_ms": _percentile(retrieval, 50),
        "retrieval_p95_ms": _percentile(retrieval, 95),
    }


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(pct / 100 * (len(values) - 1)))]


def unsupported_claims(result: Answer) -> list[str]:
    quotes = " ".join(s.quote for s in result.sources)
    if not result.grounded:
        return []
    return [c for c in ground.claims(result.text) if ground.fold(c) not in ground.fold(quotes)]


def judge(item: dict[str, Any], result: Answer) -> tuple[str, bool]:
    text = result.text.lower()
    if item.get("abstain"):
        return "abstain", not result.grounded
    if "all" in item:
        return "all: " + ", ".join(item["all"]), result.grounded and all(
            f.lower() in text for f in item["all"]
        )
    return "any: " + ", ".join(item["any"]), result.grounded and any(
        f.lower() in text for f in item["any"]
    )


async def naive_answer(answerer: Answerer, question: str) -> Answer:
    """The baseline: the same model and retrieval, but a plain RAG prompt (top passages +
    question), no coverage decision and no verification: whatever the LLM says."""
    import threading

    assert answerer.llm is not None
    hits = answerer.index.search(question, 3)
    context = "\n\n".join(h.passage.text for h in hits)
    messages = [
        {"role": "system", "content": "Answer the question using the context."},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]
    responder = answerer.llm.engine
    text = await answerer.llm.call(
        lambda: "".join(responder.stream(messages, answerer.max_tokens, threading.Event()))
    )
    sources = [
        Source(h.passage.article_id, h.passage.article_title, h.passage.text, h.passage.paragraph)
        for h in hits
    ]
    return Answer(text.strip(), True, sources)


async def run(
    answerer: Answerer,
    path: Path,
    progress: Any = None,
    naive: bool = False,
    items: list[dict[str, Any]] | None = None,
) -> list[Result]:
    """Answer and judge every item of the file (or `items`, read from it already)."""
    items = items if items is not None else json.loads(path.read_text())
    results = []
    for item in items:
        start = time.perf_counter()
        result = await (naive_answer(answerer, item["q"]) if naive else answer(answerer, item["q"]))
        expected, passed = judge(item, result)
        # The decision the answer was given by (a command, or the naive baseline, has no
        # trace: decided here as a question).
        if result.trace is not None:
            decision = result.trace.decision
        else:
            decision = answerer.decide(item["q"], [])[2]
        results.append(
            Result(
                item["q"],
                expected,
                result,
                passed,
                unsupported_claims(result),
                time.perf_counter() - start,
                item.get("kind", ""),
                decision.features if decision.rule not in UNFITTED else None,
            )
        )
        if progress:
            progress()
    return results


def fit_gate(results: list[Result]) -> gate.GateModel:
    """Refit the coverage model on these results (questions naming an unknown entity are
    declined by rule and left out of the fit)."""
    rows = [r for r in results if r.features]
    model = gate.fit([r.features or {} for r in rows], [r.expected != "abstain" for r in rows])
    answerable = sum(1 for r in rows if r.expected != "abstain")
    return gate.GateModel(
        {k: round(v, 4) for k, v in model.weights.items()},
        round(model.bias, 4),
        f"fitted by `tutor eval --fit` on {answerable} answerable and "
        f"{len(rows) - answerable} out-of-scope questions",
    )
