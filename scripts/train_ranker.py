"""Train the answer ranker (server/reason/answer/rank.py) and write server/reason/answer/rank.json.

    .venv/bin/python scripts/train_ranker.py            # train, choose the threshold, save
    .venv/bin/python scripts/train_ranker.py --cv       # leave-one-article-out figures only

Data (all in the repo or ../shared, read-only):
- the two bundled articles (server/corpus) with their labelled sets tests/data/eval_*.json;
- the development articles of ../shared/articles-dev with tests/data/library/*.json,
  except the held-out ones (`"held_out": true`), which never enter training.

Each answerable question that the coverage decision lets through gives one row per top
candidate sentence, labelled 1 when the answer the extractor builds from that candidate
contains the question's facts; out-of-scope questions give rows labelled 0. The model is a
logistic regression (rank.fit: Newton's method, deterministic). Its decline
threshold is the one that does best on the training questions, an answered-wrong
weighing as much as a fact found or a right decline: a wrong answer costs what a right
one gains (the bar asks for more: at most 1 in 30 answered wrong)."""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.core import catalog  # noqa: E402
from server.core.config import BUNDLED_CORPUS, Settings  # noqa: E402
from server.ops.bench import library as lib  # noqa: E402
from server.ops.bench.evaluate import judge  # noqa: E402
from server.reason.answer import rank  # noqa: E402
from server.reason.answer.respond import Answer, Answerer  # noqa: E402
from server.reason.index.embed import Embedder  # noqa: E402

BUNDLED_SETS = ("eval_dev", "eval_holdout", "eval_fresh", "eval_probe", "eval_blind", "eval_probe2")
WRONG_COST = 1.0


@dataclass
class Asked:
    """One question's rows: its candidates' features and labels, and its group."""

    group: str  # the article (or "bundled") it is about
    answerable: bool
    x: np.ndarray
    y: np.ndarray


def rows_for(answerer: Answerer, item: dict, group: str) -> Asked | None:
    """The candidates' rows of one question, or None when the gate declines it (the
    ranker never sees those)."""
    parsed, hits, decision = answerer.decide(item["q"], [])
    if not decision.answerable:
        return None
    hits = answerer.extractor.widen(parsed, hits)
    ranked = answerer.extractor.candidates(parsed, hits)
    if not ranked:
        return None
    x = rank.candidate_features(parsed, hits, ranked, decision, answerer.index)
    y = np.zeros(len(x))
    answerable = not item.get("abstain")
    if answerable:
        for n, c in enumerate(ranked[: rank.TOP]):
            order = [c, *(r for r in ranked if r is not c)]
            said = " ".join(answerer.extractor.extractive(parsed, hits, ranked=order))
            _, ok = judge(item, Answer(said, True, []))
            y[n] = float(ok)
    return Asked(group, answerable, x, y)


def collect(embedder: Embedder) -> list[Asked]:
    data: list[Asked] = []
    tmp = Path(tempfile.mkdtemp(prefix="rank-"))
    bundled = lib.build_answerer(sorted(BUNDLED_CORPUS.glob("*.txt")), embedder, folder=tmp / "b")
    sets = [s for s in lib.load_sets(ROOT / "tests/data/library") if not s.held_out]
    articles = ROOT.parent / "shared" / "articles-dev"
    every = [articles / s.article for s in lib.load_sets(ROOT / "tests/data/library")]
    library = lib.build_answerer(every, embedder, folder=tmp / "l")
    jobs = [(bundled, json.loads((ROOT / f"tests/data/{n}.json").read_text()), "bundled")
            for n in BUNDLED_SETS]  # fmt: skip
    jobs += [(library, s.items, Path(s.article).stem) for s in sets]
    with Progress() as progress:
        task = progress.add_task(
            "Reading the labelled questions", total=sum(len(j[1]) for j in jobs)
        )
        for answerer, items, group in jobs:
            for item in items:
                if (asked := rows_for(answerer, item, group)) is not None:
                    data.append(asked)
                progress.advance(task)
    return data


def train(data: list[Asked]) -> rank.RankModel:
    x = np.concatenate([a.x for a in data])
    y = np.concatenate([a.y for a in data])
    w, b, mean, scale = rank.fit(x, y)
    model = rank.RankModel(w, b, mean, scale, 0.5)
    return model


def outcome(model: rank.RankModel, data: list[Asked], threshold: float) -> dict[str, int]:
    """What the answer path would do with the ranker: found, wrong, declined (of those the
    gate let through; the gate's own declines are the same either way)."""
    out = {"found": 0, "wrong": 0, "declined_right": 0, "declined_answerable": 0}
    for a in data:
        p = model.probabilities(a.x)
        best = int(np.argmax(p))
        if p[best] < threshold:
            out["declined_right" if not a.answerable else "declined_answerable"] += 1
        elif a.answerable and a.y[best]:
            out["found"] += 1
        elif a.answerable:
            out["wrong"] += 1
    return out


def utility(o: dict[str, int]) -> float:
    return o["found"] + o["declined_right"] - WRONG_COST * o["wrong"]


def baseline(data: list[Asked]) -> dict[str, int]:
    """The extractor alone (its first candidate, never declining)."""
    out = {"found": 0, "wrong": 0, "declined_right": 0, "declined_answerable": 0}
    for a in data:
        if a.answerable and a.y[0]:
            out["found"] += 1
        elif a.answerable:
            out["wrong"] += 1
    return out


def choose_threshold(model: rank.RankModel, data: list[Asked]) -> float:
    grid = [round(t, 2) for t in np.arange(0.05, 0.8, 0.01)]
    return max(grid, key=lambda t: (utility(outcome(model, data, t)), -t))


def cross_validate(data: list[Asked]) -> None:
    groups = sorted({a.group for a in data} - {"bundled"})
    for g in groups:
        train_rows = [a for a in data if a.group != g]
        test_rows = [a for a in data if a.group == g]
        model = train(train_rows)
        t = choose_threshold(model, train_rows)
        print(
            f"{g[:24]:24} base {baseline(test_rows)}"
            f"\n{'':24} rerank {outcome(model, test_rows, 0.0)}"
            f"\n{'':24} ranker@{t:.2f} {outcome(model, test_rows, t)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cv", action="store_true", help="leave-one-article-out only")
    parser.add_argument("--cache", type=Path, help="keep the read questions here (pickle)")
    args = parser.parse_args()
    settings = Settings()
    embedder = Embedder(
        catalog.resolve("embed", settings.embed_model, settings.cache_dir), settings.embed_model
    )
    if args.cache and args.cache.exists():
        data = pickle.loads(args.cache.read_bytes())
    else:
        data = collect(embedder)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(data))
    cross_validate(data)
    if args.cv:
        return
    model = train(data)
    threshold = choose_threshold(model, data)
    answerable = sum(a.answerable for a in data)
    model = rank.RankModel(
        model.weights,
        model.bias,
        model.mean,
        model.scale,
        threshold,
        f"trained by scripts/train_ranker.py on {answerable} answerable and "
        f"{len(data) - answerable} out-of-scope questions the gate let through "
        f"({sum(len(a.y) for a in data)} candidates): the bundled sets and the "
        "development articles' sets; held-out articles never enter it",
    )
    model.save()
    print(f"saved {rank.MODEL_FILE} (threshold {threshold:.2f}): {outcome(model, data, threshold)}")


if __name__ == "__main__":
    asyncio.run(asyncio.sleep(0))  # nothing async: keeps imports' event-loop users quiet
    main()
