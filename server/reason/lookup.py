"""Retrieval: a question -> the passages that answer it, and whether they cover it.

BM25 (bm25s, sparse matrices) ranks passages; our own tokenizer (stopwords + Snowball
stems) feeds it. Coverage is decided here, not by the LLM: the share of the question's
information (IDF-weighted terms) that a passage contains. Words the articles never use
weigh the most, so "How do I change a flat tire?" (only "change" is in the articles)
scores low and the tutor declines, while "What happened to Stability AI?" scores 1.0.

The index is saved in the data folder with a fingerprint of the articles it was built
from, reloaded when it matches and rebuilt when an article is added or removed."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import bm25s

from server.reason.passages import Passage, split_article
from server.reason.text import query_terms, terms
from server.store import Article

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    coverage: float
    matched: frozenset[str]


class Index:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.passages: list[Passage] = []
        self._retriever: bm25s.BM25 | None = None
        self._passage_terms: list[frozenset[str]] = []
        self._df: dict[str, int] = {}
        self._lock = threading.Lock()
        self.fingerprint = ""
        self._vocabulary: tuple[list[Passage], list[str]] | None = None

    # --- building ---------------------------------------------------------------------

    def rebuild(self, articles: list[Article]) -> None:
        """Split and index every article (milliseconds for a few articles); save it."""
        passages: list[Passage] = []
        for article in articles:
            passages.extend(split_article(article, start_id=len(passages)))
        fingerprint = hashlib.sha256(
            json.dumps([(a.id, a.content_hash) for a in articles]).encode()
        ).hexdigest()[:16]
        retriever = None
        if self.folder and self._saved_fingerprint() == fingerprint:
            try:
                retriever = bm25s.BM25.load(str(self.folder / "bm25"))
            except Exception:  # noqa: BLE001 - a damaged saved index is rebuilt below
                log.warning("saved index unreadable, rebuilding")
        corpus_terms = [terms(p.search_text) for p in passages]
        if retriever is None and passages:
            retriever = bm25s.BM25(method="lucene")
            retriever.index(corpus_terms, show_progress=False)
            self._save(retriever, fingerprint)
        df: dict[str, int] = {}
        passage_terms = [frozenset(t) for t in corpus_terms]
        for ts in passage_terms:
            for t in ts:
                df[t] = df.get(t, 0) + 1
        with self._lock:
            self.passages, self._retriever = passages, retriever
            self._passage_terms, self._df = passage_terms, df
            self.fingerprint = fingerprint

    def _saved_fingerprint(self) -> str | None:
        assert self.folder is not None
        marker = self.folder / "fingerprint"
        return marker.read_text().strip() if marker.exists() else None

    def _save(self, retriever: bm25s.BM25, fingerprint: str) -> None:
        if not self.folder:
            return
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        retriever.save(str(tmp / "bm25"))
        (tmp / "fingerprint").write_text(fingerprint)
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)

    # --- searching --------------------------------------------------------------------

    def idf(self, term: str) -> float:
        n = max(1, len(self.passages))
        return math.log(1 + (n + 0.5) / (self._df.get(term, 0) + 0.5))

    def weight(self, term: str, verb: bool) -> float:
        """A query term's weight in coverage. Words the articles never use weigh the
        most (the articles say nothing about them), except inflected verbs: an unseen
        "received" is a paraphrase of "reception" far more often than a new topic."""
        if term in self._df or not verb:
            return self.idf(term)
        return self.idf(term) / 3

    def coverage(self, weights: dict[str, float], passage_terms: frozenset[str]) -> float:
        total = sum(weights.values())
        if total == 0:
            return 0.0
        return sum(w for t, w in weights.items() if t in passage_terms) / total

    def search(self, query: str, k: int = 4, prefer_article: int | None = None) -> list[Hit]:
        """Top passages for the query, best first. `prefer_article` (a lesson's article)
        boosts that article's passages by 30%."""
        q_info = query_terms(query)
        q_terms = list(q_info)
        with self._lock:
            retriever, passages, p_terms = self._retriever, self.passages, self._passage_terms
        if not q_terms or retriever is None or not passages:
            return []
        n = min(len(passages), max(k * 3, 10))
        ids, scores = retriever.retrieve([q_terms], k=n, show_progress=False, n_threads=1)
        qset = set(q_terms)
        weights = {t: self.weight(t, verb) for t, verb in q_info.items()}
        hits = []
        for pid, score in zip(ids[0], scores[0], strict=True):
            if score <= 0:
                continue
            passage = passages[int(pid)]
            preferred = prefer_article is not None and passage.article_id == prefer_article
            boost = 1.3 if preferred else 1.0
            hits.append(
                Hit(
                    passage,
                    float(score) * boost,
                    self.coverage(weights, p_terms[int(pid)]),
                    frozenset(qset & p_terms[int(pid)]),
                )
            )
        hits.sort(key=lambda h: h.score * (0.5 + h.coverage), reverse=True)
        if prefer_article is not None and hits:
            # The lesson's article wins whenever it covers the question as fully as the
            # best passage (the boost alone loses to a shorter passage elsewhere).
            top = max(h.coverage for h in hits)
            hits.sort(
                key=lambda h: (
                    not (h.passage.article_id == prefer_article and h.coverage >= top - 1e-9)
                )
            )
        return hits[:k]

    def vocabulary(self, limit: int = 60) -> list[str]:
        """Distinctive names and terms of the articles (for Whisper's prompt): capitalised
        words and words with digits, most frequent first. Cached until the next rebuild:
        every transcription asks."""
        passages = self.passages
        cached = self._vocabulary
        if cached is None or cached[0] is not passages:
            cached = (passages, self._count_vocabulary(passages))
            self._vocabulary = cached
        return cached[1][:limit]

    @staticmethod
    def _count_vocabulary(passages: list[Passage]) -> list[str]:
        counts: dict[str, int] = {}
        for p in passages:
            for sentence in p.sentences:
                for j, token in enumerate(sentence.split()):
                    word = token.strip(".,;:!?()“”\"'’‘—–").removesuffix("’s").removesuffix("'s")
                    if len(word) < 2:
                        continue
                    # Sentence-initial capitals are grammar, not names.
                    if (word[0].isupper() and j > 0) or any(c.isdigit() for c in word):
                        counts[word] = counts.get(word, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [w for w, _ in ranked]
