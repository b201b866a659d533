"""The article library: adding or removing an article keeps the database and the search
index in step, so nothing is ever half-indexed.

Changes happen one at a time, each with its listeners' work (the index rebuild): two
rebuilds that interleave could swap in the older library last. The server runs them in the
library's own thread (`apply`): parsing a 2 MB page and rebuilding the index take seconds,
and on the event loop they froze every socket; the old index answers until the new one is
swapped in whole.

A removal does not wait its turn (`remove_now`): the article leaves the database at once,
the listeners that only drop what it backed (lessons: its build is stopped) run at once,
and the index rebuild without it is queued; until that rebuild is swapped in, the
articles removed are `gone()` and the index leaves them out of its answers
(services.LibraryIndex). So a DELETE never waits behind a rebuild under way.

An add that fails after its article was stored (the index rebuild raised) removes the
article again: the library never keeps an article its index does not have.

Several hosts may share one database (behind a load balancer): a change made on another
host is seen by `sync`, which the server calls every TUTOR_LIBRARY_POLL_S seconds, and
runs the same listeners as a change made here. A poll of a 16-byte stamp rather than a
database notification channel, so it works the same on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from server.core.documents import Article, Document
from server.reason.ingest.document import SUFFIXES, load_file, parse
from server.storage.store import Store

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
Step = Callable[[str], None]  # hears each step of an add done: "parsed", "stored", "indexed"


LIBRARY_NICENESS = 10  # an index rebuild yields the CPU to learners' turns


def _below_learners() -> None:
    """The library's thread (indexing an upload, rebuilding) runs at a lower CPU priority
    than the threads that answer learners: on Linux a thread's niceness is its own. Where
    that is not allowed, it runs as it is."""
    try:
        me = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + LIBRARY_NICENESS)
        )
    except (AttributeError, OSError):
        log.debug("library thread keeps the process's priority")


class Library:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Callable[[], None]] = []
        self._changing = threading.RLock()  # one change (and its listeners) at a time
        # The server's changes wait their turn in this queue, not on the event loop or
        # in the default thread pool (its thread starts on first use).
        self._worker = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="library", initializer=_below_learners
        )
        self._stamp: str | None = None  # the library as this host's listeners last saw it
        self._removal_listeners: list[Callable[[], None]] = []
        self._gone: set[int] = set()  # removed, and not yet out of the index
        self._gone_lock = threading.Lock()
        self._rebuild_queued = False  # a rebuild after removals waits in the queue

    async def apply(self, change: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a change (`add_bytes`, `remove`, ...) in the library's thread, after the
        changes asked for before it; its errors are raised here."""
        call = functools.partial(change, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._worker, call)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after every add/remove (the retrieval index rebuilds itself here)."""
        self._listeners.append(listener)

    def on_removal(self, listener: Callable[[], None]) -> None:
        """Also called at once when `remove_now` removes an article, from the caller's
        thread, before the index is rebuilt: for quick listeners that drop what the
        article backed (lessons), not for the index."""
        self._removal_listeners.append(listener)

    def gone(self) -> frozenset[int]:
        """Articles removed whose removal the index has not caught up with yet."""
        with self._gone_lock:
            return frozenset(self._gone)

    def _changed(self) -> None:
        # Read before the listeners read the articles: a change another host makes in
        # between shows as a new stamp at the next `sync`, never as a missed one. The
        # same for removals: one noted before this point is out of what they read.
        gone = self.gone()
        self._stamp = self.store.article_stamp()
        for listener in self._listeners:
            listener()
        with self._gone_lock:
            self._gone -= gone

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
                try:
                    self._changed()
                except BaseException:
                    # Its index may not have been swapped in: the article goes again, so
                    # that it is never in the library without being in the index (and if
                    # the index has it, it is gone from the answers and rebuilt without).
                    log.warning("adding article %d failed: removing it again", article.id)
                    with contextlib.suppress(Exception):
                        self.store.delete_article(article.id)
                        self._note_gone(article.id)
                    raise
            elif self.store.add_details(doc):  # the same text, stored before its details
                article = self.store.article(article.id)
                self._changed()
            report("indexed")
        return article, created

    def add_bytes(
        self, data: bytes, filename: str, progress: Step | None = None
    ) -> tuple[Article, bool]:
        """Parse (no lock held: parsing changes nothing) and add; `progress` also hears
        "parsed" (an upload job reports these steps: server/storage/jobs.py)."""
        doc = parse(data, filename)
        (progress or _quiet)("parsed")
        return self.add(doc, progress)

    def remove(self, article_id: int) -> None:
        """Remove an article and rebuild, in the caller's turn (the CLI, tests)."""
        with self._changing:
            self.store.delete_article(article_id)
            self._changed()

    def remove_now(self, article_id: int) -> None:
        """Remove an article without waiting for the changes under way (from any thread
        but the library's): out of the database now, its lesson's build stopped now (the
        removal listeners), out of the index's answers now (`gone`), and the index
        rebuilt without it in the library's thread, after what is under way there.
        NotFound if there is no such article."""
        self.store.delete_article(article_id)
        self._note_gone(article_id)
        log.info("removed article %d; the index follows", article_id)
        for listener in self._removal_listeners:
            try:
                listener()
            except Exception:  # noqa: BLE001 - the removal stands; the rebuild follows
                log.exception("a listener of the removal of article %d failed", article_id)

    def _note_gone(self, article_id: int) -> None:
        """An article out of the database: out of the answers now, and a rebuild without
        it queued (one for all the removals made before it starts)."""
        with self._gone_lock:
            self._gone.add(article_id)
            queue = not self._rebuild_queued
            self._rebuild_queued = True
        if queue:
            self._worker.submit(self._rebuild_after_removal)

    def _rebuild_after_removal(self) -> None:
        """In the library's thread: one rebuild for the removals made since it was queued."""
        with self._gone_lock:
            self._rebuild_queued = False
        try:
            with self._changing:
                self._changed()
        except Exception:  # noqa: BLE001 - the next change or sync rebuilds
            log.exception("rebuilding the index after a removal failed")

    def wait_idle(self) -> None:
        """Block until the changes queued so far (rebuilds included) are done."""
        self._worker.submit(lambda: None).result()

    def seed(self, corpus_dir: Path, *, rebuild: bool = True) -> int:
        """Ingest the bundled articles when the library is empty (first start). Later,
        bundled articles stored before page details were read get them. `rebuild=False`:
        store only, no listeners (the server builds its index after, in the background)."""
        if self.store.article_count() > 0:
            with self._changing:
                docs = [load_file(path) for path in document_paths([corpus_dir])]
                if sum(self.store.add_details(doc) for doc in docs) and rebuild:
                    self._changed()
            return 0
        added = 0
        for path in document_paths([corpus_dir]):
            if rebuild:
                _, created = self.add(load_file(path))
            else:
                with self._changing:
                    _, created = self.store.add_article(load_file(path))
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
