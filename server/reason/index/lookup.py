"""Retrieval: a question -> the passages that answer it, best first, with the evidence the
coverage decision (`gate.py`) weighs.

Two rankers, fused:
- BM25 (bm25s, sparse matrices) over our own tokenizer (stopwords + Snowball stems), and
  the IDF-weighted share of the question's terms each passage holds (`coverage`);
- sentence embeddings (`embed.py`): the cosine of the question with each article
  sentence; a passage scores as its closest sentence. This is what finds "the main risk
  of building everything on Llama" in "If your entire stack depends on Llama, you're
  exposed to Meta's strategic decisions", which shares one word with it.

Each article also gets a metadata passage (title, site, author, date, as sentences), so
"who wrote ..." is answered and quoted like any other fact.

The BM25 index is saved in the data folder with a fingerprint of the articles it was built
from, reloaded when it matches and rebuilt when an article is added or removed. Sentence
vectors are cached per article (by its text and the model), so adding an article embeds
only that article."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from server.core.documents import Article
from server.reason.index.embed import Embedder
from server.reason.index.passages import Passage, metadata_passage, split_article
from server.reason.query.question import Lexicon, Question, parse
from server.reason.text import STOPWORDS, fold, query_terms, terms

log = logging.getLogger(__name__)
# How the fused score weighs its parts: meaning first, then the share of the question's
# words a passage holds, then BM25 (normalised to the best passage). Chosen on our own
# question set (tests/data/eval_dev.json) for the rank of the passage with the answer.
DENSE_WEIGHT = 1.0
COVERAGE_WEIGHT = 0.35
BM25_WEIGHT = 0.4
PREFER_BOOST = 0.1  # the article a lesson plays, or that the question names
METADATA_BOOST = 0.3  # "who wrote ...": the article's own details, over its prose
UNNAMED_KEPT = 16  # name-free question vectors kept for the gate (`Index._embed_question`)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    coverage: float
    matched: frozenset[str]
    dense: float = 0.0  # the closest sentence's cosine with the question
    sentence_dense: tuple[float, ...] = ()  # each sentence's cosine, in passage order
    # Each sentence's cosine read with what comes before it (heading, previous sentence):
    # "That's where you should be investing your effort." means something only there.
    context_dense: tuple[float, ...] = ()


@dataclass
class _Built:
    """Everything one rebuild makes, swapped in whole: a search never sees half of it."""

    passages: list[Passage]
    retriever: bm25s.BM25 | None
    passage_terms: list[frozenset[str]]
    df: dict[str, int]
    lexicon: Lexicon
    vectors: np.ndarray  # one row per sentence of every passage, in order
    context_vectors: np.ndarray  # the same rows, each sentence with its context
    rows: list[range]  # passage -> its rows in `vectors`
    fingerprint: str
    references: dict[int, list[str]] = field(default_factory=dict)  # article -> its names
    # The rows of `vectors` with the articles' names read as "it" (`Lexicon.without_names`).
    unnamed_vectors: np.ndarray | None = None


class Index:
    def __init__(self, folder: Path | None = None, embedder: Embedder | None = None) -> None:
        self.folder = folder
        self.embedder = embedder
        none = np.zeros((0, 1))
        self._built = _Built([], None, [], {}, Lexicon(), none, none, [], "")
        self._lock = threading.Lock()
        # Questions' name-free forms, embedded beside the question (`_embed_question`) and
        # read by the gate right after, keyed by the question: a few, for turns of several
        # sessions at once.
        self._unnamed: dict[str, np.ndarray] = {}
        self._unnamed_lock = threading.Lock()
        self._vocabulary: tuple[str, list[str]] | None = None

    @property
    def passages(self) -> list[Passage]:
        return self._built.passages

    @property
    def fingerprint(self) -> str:
        return self._built.fingerprint

    @property
    def lexicon(self) -> Lexicon:
        return self._built.lexicon

    # --- building ---------------------------------------------------------------------

    def rebuild(
        self, articles: list[Article], progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Split, index and embed every article; save it. `progress(done, total)` is
        called per article embedded (the CLI draws a bar with it)."""
        passages: list[Passage] = []
        for article in articles:
            passages.extend(split_article(article, start_id=len(passages)))
            passages.append(metadata_passage(article, len(passages)))
        # Of the passages themselves: a change in how articles are split rebuilds too, and
        # so does one in the words left out of the index (a saved index holds its terms).
        fingerprint = hashlib.sha256(
            json.dumps(
                [[(p.article_id, p.search_text) for p in passages], sorted(STOPWORDS)]
            ).encode()
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
        lexicon = Lexicon.of(
            [p.text for p in passages],
            [x for a in articles for x in (a.site, a.author) if x],
        )
        vectors, context_vectors, unnamed, rows = self._embed(articles, passages, lexicon, progress)
        built = _Built(
            passages,
            retriever,
            passage_terms,
            df,
            lexicon,
            vectors,
            context_vectors,
            rows,
            fingerprint,
            {a.id: references(a, n, len(articles)) for n, a in enumerate(articles)},
            unnamed,
        )
        with self._lock:
            self._built = built

    def _embed(
        self,
        articles: list[Article],
        passages: list[Passage],
        lexicon: Lexicon,
        progress: Callable[[int, int], None] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[range]]:
        """Sentence vectors for every passage: alone, in context (see `in_context`) and
        without the articles' names; cached per article on disk."""
        rows: list[range] = []
        total = 0
        for p in passages:
            rows.append(range(total, total + len(p.sentences)))
            total += len(p.sentences)
        if self.embedder is None:
            empty = np.zeros((total, 1), dtype=np.float32)
            return empty, empty, empty, rows
        parts: list[np.ndarray] = []
        contexts: list[np.ndarray] = []
        unnamed: list[np.ndarray] = []
        for n, article in enumerate(articles, 1):
            own = [p for p in passages if p.article_id == article.id]
            sentences = [s for p in own for s in p.sentences]
            vectors = self._article_vectors(sentences)
            unnamed.append(self._article_vectors([lexicon.without_names(s) for s in sentences]))
            headings = sorted({p.heading for p in own if p.heading})
            heads = dict(zip(headings, self._article_vectors(headings), strict=True))
            parts.append(vectors)
            contexts.append(in_context(own, vectors, heads))
            if progress:
                progress(n, len(articles))
        # Passages were made article by article, so the rows line up with `passages`.
        if not parts:
            empty = np.zeros((0, self.embedder.dim), dtype=np.float32)
            return empty, empty, empty, rows
        return np.concatenate(parts), np.concatenate(contexts), np.concatenate(unnamed), rows

    def _article_vectors(self, texts: list[str]) -> np.ndarray:
        assert self.embedder is not None
        key = hashlib.sha256(json.dumps([self.embedder.name, texts]).encode()).hexdigest()[:20]
        cache = self.folder.parent / "embeddings" / f"{key}.npy" if self.folder else None
        if cache is not None and cache.exists():
            try:
                vectors = np.load(cache)
                if vectors.shape == (len(texts), self.embedder.dim):
                    return vectors
            except (OSError, ValueError):
                log.warning("cached sentence vectors unreadable, recomputing")
        vectors = self.embedder.encode(texts)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")  # each writer its own
            np.save(tmp, vectors)
            tmp.replace(cache)
        return vectors

    def _saved_fingerprint(self) -> str | None:
        assert self.folder is not None
        marker = self.folder / "fingerprint"
        return marker.read_text().strip() if marker.exists() else None

    def _save(self, retriever: bm25s.BM25, fingerprint: str) -> None:
        if not self.folder:
            return
        # Hosts may share a data folder: each writes its own temporary copy, and one
        # that finds the folder replaced under it by another's leaves that one be (the
        # saved copy only spares the next start a rebuild; this host keeps its own).
        tmp = self.folder.with_name(f"{self.folder.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        retriever.save(str(tmp / "bm25"))
        (tmp / "fingerprint").write_text(fingerprint)
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            tmp.rename(self.folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

    # --- searching --------------------------------------------------------------------

    def question(self, text: str) -> Question:
        return parse(text, self._built.lexicon)

    def idf(self, term: str) -> float:
        n = max(1, len(self._built.passages))
        return math.log(1 + (n + 0.5) / (self._built.df.get(term, 0) + 0.5))

    def knows(self, term: str) -> bool:
        return term in self._built.df

    def weight(self, term: str, verb: bool) -> float:
        """A query term's weight in coverage. Words the articles never use weigh the
        most (the articles say nothing about them), except inflected verbs: an unseen
        "received" is a paraphrase of "reception" far more often than a new topic."""
        if term in self._built.df or not verb:
            return self.idf(term)
        return self.idf(term) / 3

    def weights(self, question: Question | str) -> dict[str, float]:
        """Each query term's coverage weight (a text is tokenized as a question is)."""
        q = question.terms if isinstance(question, Question) else query_terms(question)
        return {t: self.weight(t, verb) for t, verb in q.items()}

    @staticmethod
    def coverage(weights: dict[str, float], passage_terms: frozenset[str]) -> float:
        total = sum(weights.values())
        if total == 0:
            return 0.0
        return sum(w for t, w in weights.items() if t in passage_terms) / total

    def embed(self, text: str) -> np.ndarray | None:
        return None if self.embedder is None else self.embedder.encode([text])[0]

    def _embed_question(self, text: str) -> np.ndarray:
        """The question's vector. Its name-free form, which the gate reads next
        (`unnamed_dense`), is embedded in the same call (two texts in one batch take
        11 ms on our 2-core CPU, against 15 ms in two calls) and kept; a question without
        names is its own name-free form."""
        assert self.embedder is not None
        unnamed = self._built.lexicon.without_names(text)
        texts = [text] if unnamed == text else [text, unnamed]
        vectors = self.embedder.encode(texts)
        with self._unnamed_lock:
            if len(self._unnamed) >= UNNAMED_KEPT:
                self._unnamed.pop(next(iter(self._unnamed)))
            self._unnamed[text] = vectors[-1]
        return vectors[0]

    def unnamed_dense(self, text: str) -> float | None:
        """The closest article sentence's cosine with `text`, the names of both read as
        "it": how near the articles come to what a question asks of their names, rather
        than to the names. A question that says none of them is read against the
        sentences so too: "What's a good recipe for guacamole?" comes close to the
        articles only through Avocado (0.44 with the names, 0.15 without). None without
        an embedder."""
        built = self._built
        if self.embedder is None or built.unnamed_vectors is None or not len(built.unnamed_vectors):
            return None
        with self._unnamed_lock:
            vector = self._unnamed.get(text)
        if vector is None:
            vector = self.embedder.encode([built.lexicon.without_names(text)])[0]
        return float((built.unnamed_vectors @ vector).max())

    def search(
        self,
        question: Question | str,
        k: int = 4,
        prefer_article: int | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Top passages for the question, best first. `prefer_article` (a lesson's
        article) wins ties and near-ties. `vector`: the question's embedding, when the
        caller has it already."""
        if isinstance(question, str):
            question = self.question(question)
        built = self._built
        if prefer_article is None:
            prefer_article = self.referenced_article(question)
        about_article = question.about_article
        if not built.passages:
            return []
        if vector is None and self.embedder is not None:
            vector = self._embed_question(question.search_text)
        n = len(built.passages)
        bm25 = np.zeros(n, dtype=np.float32)
        q_terms = list(question.terms)
        if q_terms and built.retriever is not None:
            ids, scores = built.retriever.retrieve([q_terms], k=n, show_progress=False, n_threads=1)
            bm25[ids[0]] = scores[0]
        top_bm25 = float(bm25.max()) or 1.0
        usable = vector is not None and built.vectors.shape[1] == len(vector)
        sims = built.vectors @ vector if usable else np.zeros(len(built.vectors), np.float32)
        in_ctx = (
            built.context_vectors @ vector
            if usable
            else np.zeros(len(built.context_vectors), dtype=np.float32)
        )
        qset = set(q_terms)
        weights = self.weights(question)
        hits = []
        for pid, passage in enumerate(built.passages):
            sentence_dense = tuple(float(x) for x in sims[built.rows[pid]])
            dense = max(sentence_dense, default=0.0)
            cov = self.coverage(weights, built.passage_terms[pid])
            if dense <= 0 and bm25[pid] <= 0:
                continue
            if passage.is_metadata and not about_article:
                continue  # "according to the AgntBox article, ..." asks about its content
            score = (
                DENSE_WEIGHT * dense
                + COVERAGE_WEIGHT * cov
                + BM25_WEIGHT * float(bm25[pid]) / top_bm25
            )
            if prefer_article is not None and passage.article_id == prefer_article:
                score += PREFER_BOOST
            if passage.is_metadata:
                score += METADATA_BOOST
            matched = frozenset(qset & built.passage_terms[pid])
            context_dense = tuple(float(x) for x in in_ctx[built.rows[pid]])
            hits.append(Hit(passage, score, cov, matched, dense, sentence_dense, context_dense))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def referenced_article(self, question: Question | str) -> int | None:
        """The article a question (or its search text) names ("the AgntBox article",
        "Jake Chen's piece", "the second article"), if it names exactly one."""
        said = self.pointed_names(question)
        named = {
            article
            for article, names in self._built.references.items()
            if any(n in said for n in names)
        }
        return named.pop() if len(named) == 1 else None

    def pointed_names(self, question: Question | str) -> set[str]:
        """The names of articles a question (or its search text) says ("agntbox",
        "jake chen's", "the second article")."""
        text = question if isinstance(question, str) else question.search_text
        # "... the second article?": the mark ends the name; a site's dot does not.
        text = re.sub(r"[?!,;:]|\.(?=\s|$)", " ", f" {fold(text)} ")
        return {
            n
            for names in self._built.references.values()
            for n in names
            if f" {n} " in text or f" {n}'s " in text
        }

    def reference_names(self) -> set[str]:
        """Every name by which a learner points at an article ("agntbox", "jake chen")."""
        return {n for names in self._built.references.values() for n in names}

    def vocabulary(self, limit: int = 60) -> list[str]:
        """Distinctive names and terms of the articles (for Whisper's prompt): capitalised
        words and words with digits, most frequent first. Cached until the next rebuild:
        every transcription asks."""
        cached = self._vocabulary
        if cached is None or cached[0] != self.fingerprint:
            passages = [p for p in self.passages if not p.is_metadata]
            cached = (self.fingerprint, self._count_vocabulary(passages))
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


ORDINALS = ("first", "second", "third", "fourth", "fifth")


def in_context(
    passages: list[Passage], vectors: np.ndarray, heads: dict[str, np.ndarray]
) -> np.ndarray:
    """Each sentence's vector as a reader meets it: with the sentence before it and its
    heading (`vectors`: the passages' sentences in order). Mean pooling makes the sum of
    the parts' vectors close to the vector of the parts read together, at no model cost
    (embedding the joined texts doubled an index build)."""
    out = np.zeros_like(vectors)
    row = 0
    for p in passages:
        for i in range(len(p.sentences)):
            v = vectors[row] + (vectors[row - 1] if i > 0 else 0.0)
            if p.heading:
                v = v + 0.5 * heads[p.heading]
            out[row] = v / max(float(np.linalg.norm(v)), 1e-9)
            row += 1
    return out


def references(article: Article, position: int, count: int) -> list[str]:
    """How a learner names an article: its site, its author, "the first article"."""
    names = [fold(x) for x in (article.site, article.author) if x]
    if article.author and " " in article.author:
        names.extend(fold(p) for p in article.author.split() if len(p) > 3)
    if article.site and "." in article.site:
        names.append(fold(article.site.split(".")[0]))
    if count > 1 and position < len(ORDINALS):
        names.extend(f"{ORDINALS[position]} {w}" for w in ("article", "piece", "one", "post"))
    return [n.strip(" .") for n in names if n.strip(" .")]
