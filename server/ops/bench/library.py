"""`tutor eval DIR`: a library (articles + a question file per article) through the answer
path, scored per article.

A question file is `{"article": "<file name>", "questions": [...items...]}` (items as in
`evaluate.py`), optionally with `"held_out": true` for an article kept out of development:
its figures are reported first and apart. Every article of the folder goes into one fresh
library (a temporary SQLite store and index), so each question is asked with all the other
articles present: an answer quoted from the wrong article is an answered-wrong.

"Answered wrong" is a grounded answer to an answerable question without its facts: the
tutor said something, quoted, that does not answer. It is worse than a decline."""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.core.errors import TutorError
from server.ops.bench.evaluate import Result, _percentile, run


@dataclass
class QuestionSet:
    article: str
    items: list[dict[str, Any]]
    held_out: bool
    path: Path


@dataclass
class ArticleScore:
    article: str
    held_out: bool
    answerable: int
    facts_found: int
    out_of_scope: int
    declined_right: int
    answered_wrong: int
    median_words: float
    retrieval_p50_ms: float
    retrieval_p95_ms: float


def load_sets(folder: Path) -> list[QuestionSet]:
    sets = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "article" not in data or "questions" not in data:
            raise TutorError(f"{path}: not a library question file", code="usage")
        sets.append(
            QuestionSet(data["article"], data["questions"], bool(data.get("held_out")), path)
        )
    if not sets:
        raise TutorError(f"{folder}: no question files (*.json)", code="usage")
    return sets


def score(qs: QuestionSet, results: list[Result]) -> ArticleScore:
    answerable = [r for r in results if r.expected != "abstain"]
    should = [r for r in results if r.expected == "abstain"]
    lengths = [len(r.answer.text.split()) for r in answerable if r.answer.grounded]
    retrieval = sorted(r.answer.timings.get("retrieval", 0.0) * 1000 for r in results)
    return ArticleScore(
        qs.article,
        qs.held_out,
        len(answerable),
        sum(r.passed for r in answerable),
        len(should),
        sum(r.passed for r in should),
        sum(1 for r in answerable if r.answer.grounded and not r.passed),
        statistics.median(lengths) if lengths else 0.0,
        _percentile(retrieval, 50),
        _percentile(retrieval, 95),
    )


def build_answerer(
    articles: list[Path],
    embedder: Any,
    llm: Any = None,
    progress: Callable[[int, int], None] | None = None,
    folder: Path | None = None,
    judge: Any = None,
    ranker: Any = None,
) -> Any:
    """A fresh library of these article files and the answer path over it (`judge`: the
    LLM reader, `server/reason/answer/judge.py`)."""
    from server.reason.answer.respond import Answerer
    from server.reason.index.lookup import Index
    from server.storage.library import Library
    from server.storage.store import Store

    folder = folder or Path(tempfile.mkdtemp(prefix="tutor-eval-"))
    library = Library(Store(folder / "library.sqlite3"))
    for path in articles:
        library.add_bytes(path.read_bytes(), path.name)
    index = Index(folder / "index", embedder)
    index.rebuild(library.store.articles(), progress)
    return Answerer(index, llm, judge=judge, ranker=ranker)


async def run_sets(
    answerer: Any, sets: list[QuestionSet], progress: Callable[[], None] | None = None
) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for qs in sets:
        out[qs.article] = await run(answerer, qs.path, progress, items=qs.items)
    return out


def totals(scores: list[ArticleScore]) -> dict[str, int]:
    return {
        "answerable": sum(s.answerable for s in scores),
        "facts_found": sum(s.facts_found for s in scores),
        "out_of_scope": sum(s.out_of_scope for s in scores),
        "declined_right": sum(s.declined_right for s in scores),
        "answered_wrong": sum(s.answered_wrong for s in scores),
    }
