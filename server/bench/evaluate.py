"""`tutor eval FILE`: run a question file through the answer path and score it.

File format (as ../shared/eval/qa_public.json): a list of
  {"q": question, "any": [facts, one must appear]}  or  {"all": [...]}  or
  {"q": question, "abstain": true}.
Scores: facts found in answerable items, right abstentions, and answers containing a
name or number absent from their own quoted sources (should be 0)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.reason import ground
from server.reason.cite import Source
from server.reason.respond import Answer, Answerer, answer


@dataclass
class Result:
    question: str
    expected: str
    answer: Answer
    passed: bool
    unsupported: list[str]
    seconds: float


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
    answerer: Answerer, path: Path, progress: Any = None, naive: bool = False
) -> list[Result]:
    items = json.loads(path.read_text())
    results = []
    for item in items:
        start = time.perf_counter()
        result = await (naive_answer(answerer, item["q"]) if naive else answer(answerer, item["q"]))
        expected, passed = judge(item, result)
        results.append(
            Result(
                item["q"],
                expected,
                result,
                passed,
                unsupported_claims(result),
                time.perf_counter() - start,
            )
        )
        if progress:
            progress()
    return results
