"""The article library: adding or removing an article keeps the database and the search
index in step, so nothing is ever half-indexed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from server.reason.ingest import SUFFIXES, Document, load_file, parse
from server.store import Article, Store

log = logging.getLogger(__name__)


class Library:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after every add/remove (the retrieval index rebuilds itself here)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def add(self, doc: Document) -> tuple[Article, bool]:
        article, created = self.store.add_article(doc)
        if created:
            log.info(
                "added article %d: %s (%d words)", article.id, article.title, article.word_count
            )
            self._changed()
        return article, created

    def add_bytes(self, data: bytes, filename: str) -> tuple[Article, bool]:
        return self.add(parse(data, filename))

    def remove(self, article_id: int) -> None:
        self.store.delete_article(article_id)
        self._changed()

    def seed(self, corpus_dir: Path) -> int:
        """Ingest the bundled articles when the library is empty (first start)."""
        if self.store.article_count() > 0:
            return 0
        added = 0
        for path in document_paths([corpus_dir]):
            _, created = self.add(load_file(path))
            added += created
        return added


def document_paths(paths: Iterable[Path]) -> list[Path]:
    """Files to ingest: the given files, and the supported files inside given folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and _supported(p.name)))
        else:
            found.append(path)
    return found


def _supported(name: str) -> bool:
    return any(name.lower().endswith(s) for s in SUFFIXES)
