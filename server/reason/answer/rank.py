"""The answer ranker: which retrieved sentence answers, and whether any does.

A logistic model over what the answer path has already computed for each of the top
candidate sentences (`Extractor.candidates`): the extractor's own score and place, the
passage's retrieval score parts, the sentence's meaning alone and in context, how much of
the question it and its context say, whether it holds the kind of answer asked for, the
question's names said in it or its context (heading, lead-in), and the coverage
decision's features. It gives each candidate P(the answer made from it holds the facts).

Trained by `scripts/train_ranker.py` on labelled questions about articles of many
sources (the label is computed, not hand-set: the answer the extractor builds from that
candidate contains the question's facts); the held-out articles never enter it. The
weights are a small JSON file (`rank.json`), rebuilt the same from the same data.

At answer time the best candidate by P leads the answer; when even it is under the
model's threshold, the question is declined: a grounded answer without the facts is
worse than a decline. It only narrows what the coverage decision lets through."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from server.reason.answer.extract import answer_bonus
from server.reason.answer.gate import logistic
from server.reason.text import fold, terms, words

if TYPE_CHECKING:
    from server.reason.answer.gate import Decision
    from server.reason.index.lookup import Hit, Index
    from server.reason.query.question import Question

MODEL_FILE = Path(__file__).with_name("rank.json")
TOP = 6  # candidates the model reads; the answer's sentence is almost always among them

FEATURES = (
    "score",  # the extractor's score
    "place",  # its place among the candidates (0 first)
    "gap",  # how far under the best extractor score
    "hit_score",  # the passage's fused retrieval score
    "hit_place",  # the passage's retrieval rank
    "dense",  # the sentence's meaning against the question's
    "context_dense",  # ... read with its heading and the sentence before
    "coverage",  # the share of the question's words the sentence and its context say
    "kind_held",  # it holds the kind of answer asked for (a date for "when" ...)
    "names_near",  # the share of the question's names said in it or its context
    "names_in",  # ... in the sentence itself
    "gate_dense",
    "gate_coverage",
    "gate_unknown",
    "gate_attribute",
    "gate_p",
    "words",  # its length (/30)
    "item",  # a list item
    "row",  # a table row
    "meta",  # the article's details
)


@dataclass(frozen=True)
class RankModel:
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float
    note: str = ""

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RankModel | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        if tuple(raw["features"]) != FEATURES:
            return None  # trained on other features: retrain (`scripts/train_ranker.py`)
        return cls(
            np.array(raw["weights"], dtype=np.float64),
            float(raw["bias"]),
            np.array(raw["mean"], dtype=np.float64),
            np.array(raw["scale"], dtype=np.float64),
            float(raw["threshold"]),
            raw.get("note", ""),
        )

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(
            json.dumps(
                {
                    "features": list(FEATURES),
                    "weights": [round(float(w), 5) for w in self.weights],
                    "bias": round(self.bias, 5),
                    "mean": [round(float(m), 5) for m in self.mean],
                    "scale": [round(float(s), 5) for s in self.scale],
                    "threshold": round(self.threshold, 4),
                    "note": self.note,
                },
                indent=1,
            )
            + "\n"
        )


def candidate_features(
    question: Question,
    hits: list[Hit],
    ranked: list[tuple[float, int, int]],
    decision: Decision,
    index: Index,
) -> np.ndarray:
    """One row of FEATURES per candidate of `ranked[:TOP]`."""
    search_text = question.search_text
    want = question.kind
    weights = index.weights(question)
    names = [fold(e) for e in question.entities]
    best = ranked[0][0] if ranked else 0.0
    gate = decision.features
    rows = []
    for place, (score, rank, i) in enumerate(ranked[:TOP]):
        hit = hits[rank]
        passage = hit.passage
        sentence = passage.sentences[i]
        dense = hit.sentence_dense[i] if i < len(hit.sentence_dense) else 0.0
        context_dense = hit.context_dense[i] if i < len(hit.context_dense) else dense
        near = fold(f"{passage.context} {sentence}")
        said = set(words(near))
        own = set(words(fold(sentence)))
        rows.append(
            [
                score,
                place,
                best - score,
                hit.score,
                rank,
                dense,
                context_dense,
                index.coverage(weights, frozenset(terms(f"{passage.context} {sentence}"))),
                float(answer_bonus(want, sentence, search_text) > 0),
                _share(names, said),
                _share(names, own),
                gate.get("dense", 0.0),
                gate.get("coverage", 0.0),
                gate.get("unknown", 0.0),
                gate.get("attribute", 0.0),
                decision.probability,
                len(sentence.split()) / 30,
                float(passage.kind == "item"),
                float(passage.kind == "row"),
                float(passage.is_metadata),
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))


def _share(names: list[str], said: set[str]) -> float:
    """The share of the names whose every word is said (1 when there are none)."""
    if not names:
        return 1.0
    return sum(all(w in said for w in words(n)) for n in names) / len(names)


def fit(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """The ranker's logistic regression on standardised features (`gate.logistic`).
    Returns weights, bias, and the standardisation."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    w = logistic(np.hstack([np.ones((len(z), 1)), z]), y, l2)
    return w[1:], float(w[0]), mean, scale


class Ranker:
    """TUTOR_READER=ranked: the trained model reorders the extractor's candidates and
    declines when even the best is under its threshold. A few microseconds a turn."""

    def __init__(self, model: RankModel, threshold: float | None = None) -> None:
        self.model = model
        self.threshold = model.threshold if threshold is None else threshold

    @classmethod
    def load(cls, threshold: float | None = None) -> Ranker:
        model = RankModel.load()
        if model is None:
            raise FileNotFoundError(f"{MODEL_FILE}: run scripts/train_ranker.py")
        return cls(model, threshold)

    def read(
        self,
        question: Question,
        hits: list[Hit],
        ranked: list[tuple[float, int, int]],
        decision: Decision,
        index: Index,
    ) -> tuple[float, list[tuple[float, int, int]]]:
        """The best candidate's probability, and the candidates with it first (the
        others as they were)."""
        if not ranked:
            return 0.0, ranked
        p = self.model.probabilities(candidate_features(question, hits, ranked, decision, index))
        best = int(np.argmax(p))
        chosen = ranked[best]
        return float(p[best]), [chosen, *(c for c in ranked if c is not chosen)]
