"""The article library: adding or removing an article keeps the database and the search
index in step, so nothing is ever half-indexed.

Changes happen one at a time, each with its listeners' work (the index rebuild): two
rebuilds that interleave could swap in the older library last. The server runs them in the
library's own thread (`apply`): parsing a 2 MB page and rebuilding the index take seconds,
and on the event loop they froze every socket; the old index answers until the new one is
swapped in whole.

Several hosts may share one database (behind a load balancer): a change made on another
host is seen by `sync`, which the server calls every TUTOR_LIBRARY_POLL_S seconds, and
runs the same listeners as a change made here. A poll of a 16-byte stamp rather than a
database notification channel, so it works the same on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from server.reason.ingest import SUFFIXES, Document, load_file, parse
from server.store import Article, Store

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
Step = Callable[[str], None]  # hears each step of an add done: "parsed", "stored", "indexed"


class Library:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Callable[[], None]] = []
        self._changing = threading.RLock()  # one change (and its listeners) at a time
        # The server's changes wait their turn in this queue, not on the event loop or
        # in the default thread pool (its thread starts on first use).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="library")
        self._stamp: str | None = None  # the library as this host's listeners last saw it

    async def apply(self, change: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a change (`add_bytes`, `remove`, ...) in the library's thread, after the
        changes asked for before it; its errors are raised here."""
        call = functools.partial(change, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._worker, call)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after every add/remove (the retrieval index rebuilds itself here)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        # Read before the listeners read the articles: a change another host makes in
        # between shows as a new stamp at the next `sync`, never as a missed one.
        self._stamp = self.store.article_stamp()
        for listener in self._listeners:
            listener()

    def mark_seen(self) -> None:
        """Call before building from the articles as they are now (the index at start)."""
        self._stamp = self.store.article_stamp()

    def sync(self) -> bool:
        """Whether another host changed the library since this one last looked; if so,
        its listeners run (the index rebuilds, lessons follow) as for a change made here."""
        with self._changing:
            if self.store.article_stamp() == self._stamp:
                return False
            log.info("the library changed on another host: rebuilding the index")
            self._changed()
            return True

    def add(self, doc: Document, progress: Step | None = None) -> tuple[Article, bool]:
        """Store the article and, if that changed the library, run the listeners (the
        index rebuild, then lessons). `progress` hears "stored", then "indexed" once the
        listeners are done; (article, False) when the same text was there already."""
        report = progress or _quiet
        with self._changing:
            article, created = self.store.add_article(doc)
            report("stored")
            if created:
                log.info(
                    "added article %d: %s (%d words)",
                    article.id,
                    article.title,
                    article.word_count,
                )
                self._changed()
            elif self.store.add_details(doc):  # the same text, stored before its details
                article = self.store.article(article.id)
                self._changed()
            report("indexed")
        return article, created

    def add_bytes(
        self, data: bytes, filename: str, progress: Step | None = None
    ) -> tuple[Article, bool]:
        """Parse (no lock held: parsing changes nothing) and add; `progress` also hears
        "parsed" (an upload job reports these steps: server/jobs.py)."""
        doc = parse(data, filename)
        (progress or _quiet)("parsed")
        return self.add(doc, progress)

    def remove(self, article_id: int) -> None:
        with self._changing:
            self.store.delete_article(article_id)
            self._changed()

    def seed(self, corpus_dir: Path) -> int:
        """Ingest the bundled articles when the library is empty (first start). Later,
        bundled articles stored before page details were read get them."""
        if self.store.article_count() > 0:
            with self._changing:
                docs = [load_file(path) for path in document_paths([corpus_dir])]
                if sum(self.store.add_details(doc) for doc in docs):
                    self._changed()
            return 0
        added = 0
        for path in document_paths([corpus_dir]):
            _, created = self.add(load_file(path))
            added += created
        return added


def _quiet(step: str) -> None:
    """No one is listening to this add's steps (the CLI, seeding)."""


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
