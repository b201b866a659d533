"""Uploads added in the background: `POST /api/articles` answers 202 with a job at once,
and the page polls it (`GET /api/articles/jobs/{id}`).

In: an upload already checked for what can be told at once (type, size, empty, binary:
server/web/upload.py). Out: a job that goes pending -> indexing -> ready (with the article's
summary), or -> failed with a typed error `{code, message}` (no article text found in it).

The add (parse, store, index rebuild, then the other listeners: lessons) runs in the
library's thread after the changes asked for before it (`Library.apply`), so the event
loop keeps answering learners, and the old index answers until the new one is swapped in.
Jobs live in this process's memory (the newest KEEP of them): a job is polled on the host
that took the upload.

Pending uploads survive a crash. `submit` keeps the upload's bytes in the pending folder
(<data>/uploads: `<job>.upload`, then `<job>.json` with its name; each written whole and
synced) before it answers 202, and the job removes both once the article is in the library
and its index swapped in, or once it failed. At the next start, `recover` (before the
index is built) finds what a crash left: a `.json` marks an upload that was accepted; if
its article had been stored but its index not swapped in, the article is taken out again;
then `resume` adds each accepted upload again as a job with the same id, after the index
has been loaded. (`announce`, before the server answers anything, makes those jobs known
at once, pending: a client polling its job across the restart never sees it unknown.)
Only the server does this, at its start: a command (`tutor ask`) on the same data folder
leaves the pending uploads to it. So after a crash a pending article is either finished
or (if it was never accepted, or is no article) discarded, never in the library without
being in the index."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.core.errors import NotFound, TutorError
from server.reason.ingest.document import parse
from server.storage.library import Library

log = logging.getLogger(__name__)
KEEP = 200  # jobs remembered; finished ones are forgotten oldest first
MAX_WAITING = 16  # uploads waiting or being added at once (each holds its bytes); more: 429
# How far along a job is once each step is done (the library reports them as it goes).
PROGRESS = {"queued": 0.0, "started": 0.1, "parsed": 0.4, "stored": 0.6, "indexed": 0.95}
FINISHED = ("ready", "failed")


@dataclass
class Job:
    id: str
    filename: str
    state: str = "pending"  # pending (waiting its turn) | indexing | ready | failed
    step: str = "queued"  # the last step done: queued, started, parsed, stored, indexed
    progress: float = 0.0
    article: dict[str, Any] | None = None
    created: bool | None = None  # False: the same text was in the library already
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "state": self.state,
            "step": self.step,
            "progress": self.progress,
            "filename": self.filename,
            "article": self.article,
            "created": self.created,
            "error": self.error,
        }


@dataclass(frozen=True)
class Recovered:
    """An upload accepted before a crash, to be added again (`UploadJobs.resume`)."""

    job_id: str
    filename: str
    path: Path  # its bytes


class UploadJobs:
    def __init__(self, library: Library, folder: Path | None = None) -> None:
        """`folder`: where pending uploads are kept until added (none: kept in memory
        only, as the tests of the jobs alone do)."""
        self.library = library
        self.folder = folder
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()  # steps are reported from the library's thread
        self._tasks: set[asyncio.Task[None]] = set()  # held, so none is collected mid-run
        self._closing = False  # shutting down: an add cut short stays pending

    async def submit(self, data: bytes, filename: str) -> dict[str, Any]:
        """Keep a checked upload in the pending folder (synced), then queue its add: the
        job, pending. Only then may the client be told it was accepted."""
        self._check_room()
        job_id = secrets.token_urlsafe(12)
        if self.folder is not None:
            try:
                await asyncio.to_thread(self._keep, job_id, data, filename)
            except OSError as exc:  # e.g. the disk is full: not accepted, nothing kept
                await asyncio.to_thread(self._forget_pending, job_id)
                raise TutorError(
                    f"the upload could not be kept ({exc.strerror or exc}); try again later",
                    code="storage_failed",
                ) from exc
        return self.start(data, filename, job_id=job_id)

    def start(
        self, data: bytes, filename: str, *, job_id: str | None = None, limit: bool = True
    ) -> dict[str, Any]:
        """Queue the add of a checked upload (on the event loop); the job, pending.
        `limit=False`: past MAX_WAITING too (an upload accepted before a restart)."""
        with self._lock:
            if limit:
                self._check_room()
            job = self._jobs.get(job_id) if job_id else None  # announced at start
            if job is None or job.state in FINISHED:
                job = Job(job_id or secrets.token_urlsafe(12), filename)
                self._jobs[job.id] = job
            self._forget_old()
            snapshot = job.to_dict()
        task = asyncio.create_task(self._run(job, data), name=f"upload-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return snapshot

    def _check_room(self) -> None:
        waiting = sum(job.state not in FINISHED for job in list(self._jobs.values()))
        if waiting >= MAX_WAITING:
            raise TutorError(
                f"{waiting} articles are being added already; try again when one is done",
                code="rate_limited",
            )

    async def settle(self, timeout: float) -> None:
        """At shutdown, before the store closes: let the adds under way finish (for up to
        `timeout` seconds) rather than pull the database from under them. One cut short
        stays in the pending folder, and is added at the next start."""
        self._closing = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(f"no upload job with id {job_id[:40]}")
            return job.to_dict()

    async def _run(self, job: Job, data: bytes) -> None:
        def add() -> tuple[Any, bool]:  # in the library's thread, when its turn comes
            self._step(job, "started")
            doc = parse(data, job.filename)
            self._step(job, "parsed")
            if self.folder is not None:  # what to take out again if this is cut short
                known = {a.content_hash for a in self.library.store.articles()}
                self._mark(job.id, job.filename, doc.content_hash, doc.content_hash not in known)
            added = self.library.add(doc, lambda s: self._step(job, s))
            self._forget_pending(job.id)  # in the library and in its index: done
            return added

        try:
            article, created = await self.library.apply(add)
        except TutorError as exc:  # e.g. no article text in it: the library is unchanged
            log.info("upload %s (%s) failed: %s", job.id, job.filename, exc)
            self._forget_pending(job.id)
            self._finish(job, "failed", error={"code": exc.code, "message": exc.message})
        except Exception:  # noqa: BLE001 - one upload's failure is its job's, not the server's
            log.exception("upload %s (%s) failed", job.id, job.filename)
            if not self._closing:  # (cut short by a shutdown: added at the next start)
                self._forget_pending(job.id)
            error = {"code": "internal", "message": "adding the article failed"}
            self._finish(job, "failed", error=error)
        else:
            self._finish(job, "ready", article=article.summary(), created=created)

    # --- the pending folder -------------------------------------------------------------

    def _keep(self, job_id: str, data: bytes, filename: str) -> None:
        """The upload's bytes, then its name: the `.json` is written last, so its presence
        means the whole upload is on disk (and the client may be told so)."""
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_synced(self.folder / f"{job_id}.upload", data)
        _write_synced(self.folder / f"{job_id}.json", json.dumps({"filename": filename}).encode())

    def _mark(self, job_id: str, filename: str, content_hash: str, new: bool) -> None:
        """Before the article is stored: its text's hash, and whether the library lacked
        it (then a crash before the index is swapped in takes it out again)."""
        assert self.folder is not None
        note = {"filename": filename, "content_hash": content_hash, "new": new}
        _write_synced(self.folder / f"{job_id}.json", json.dumps(note).encode())

    def _forget_pending(self, job_id: str) -> None:
        if self.folder is None:
            return
        for suffix in (".json", ".upload"):  # the marker first: bytes alone are discarded
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{job_id}{suffix}").unlink()

    def announce(self) -> None:
        """At start, before the server answers: the uploads accepted before the restart
        are known at once, pending, by the job ids their clients were given (`recover`
        and `resume` add them once the index has loaded)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for note in sorted(self.folder.glob("*.json")):
            if note.with_suffix(".upload").exists():
                try:
                    filename = str(json.loads(note.read_text())["filename"])
                except (OSError, ValueError, KeyError, TypeError):
                    filename = "upload"
                with self._lock:
                    self._jobs.setdefault(note.stem, Job(note.stem, filename))

    def _discard(self, job_id: str, why: str) -> None:
        """An upload found pending at start that cannot be added: gone, and its job (if
        announced) failed."""
        self._forget_pending(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None and job.state not in FINISHED:
            self._finish(job, "failed", error={"code": "bad_document", "message": why})

    def recover(self) -> list[Recovered]:
        """At start, before the index is built (in the library's thread): the uploads a
        crash left pending. An upload never accepted (its bytes but no `.json`) is
        discarded; an article stored for an accepted one whose index was not swapped in
        is taken out of the library again (it is added again by `resume`)."""
        if self.folder is None or not self.folder.is_dir():
            return []
        found: list[Recovered] = []
        stored: dict[str, int] | None = None
        for path in sorted(self.folder.iterdir()):
            job_id, suffix = path.stem, path.suffix
            upload = path.with_suffix(".upload")
            if suffix == ".upload" and path.with_suffix(".json").exists():
                continue  # (read with its .json)
            if suffix != ".json" or not upload.exists():
                log.info("discarding %s: an upload never accepted", path.name)
                path.unlink(missing_ok=True)
                continue
            try:
                note = json.loads(path.read_text())
                filename = str(note["filename"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("discarding pending upload %s: its note is unreadable", job_id)
                self._discard(job_id, "the upload was damaged by a crash; send it again")
                continue
            if note.get("new") and note.get("content_hash"):
                if stored is None:
                    stored = {a.content_hash: a.id for a in self.library.store.articles()}
                if (article_id := stored.get(note["content_hash"])) is not None:
                    log.info(
                        "article %d was stored but not indexed before a crash: it is added"
                        " again from its upload",
                        article_id,
                    )
                    with contextlib.suppress(NotFound):
                        self.library.store.delete_article(article_id)
            found.append(Recovered(job_id, filename, upload))
        return found

    def resume(self, recovered: list[Recovered]) -> None:
        """Add the uploads `recover` found, as jobs with their ids (on the event loop)."""
        for item in recovered:
            try:
                data = item.path.read_bytes()
            except OSError:
                log.warning("pending upload %s is unreadable: discarded", item.job_id)
                self._discard(item.job_id, "the upload was damaged by a crash; send it again")
                continue
            log.info(
                "adding upload %s (%s), pending before the restart", item.job_id, item.filename
            )
            self.start(data, item.filename, job_id=item.job_id, limit=False)

    def _step(self, job: Job, step: str) -> None:
        with self._lock:
            job.state, job.step, job.progress = "indexing", step, PROGRESS[step]

    def _finish(self, job: Job, state: str, **result: Any) -> None:
        with self._lock:
            job.state = state
            if state == "ready":
                job.progress = 1.0
            for name, value in result.items():
                setattr(job, name, value)

    def _forget_old(self) -> None:  # (with self._lock held)
        """Past KEEP jobs, drop the oldest finished ones (a waiting job is never dropped)."""
        finished = [i for i, job in self._jobs.items() if job.state in FINISHED]
        for job_id in finished[: max(0, len(self._jobs) - KEEP)]:
            del self._jobs[job_id]


def _write_synced(path: Path, data: bytes) -> None:
    """Write a file whole (a temporary file, synced, then renamed over it), and sync its
    folder, so that after a crash it is there entire or not at all."""
    tmp = path.with_name(f"{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
