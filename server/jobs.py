"""Uploads added in the background: `POST /api/articles` answers 202 with a job at once,
and the page polls it (`GET /api/articles/jobs/{id}`).

In: an upload already checked for what can be told at once (type, size, empty, binary:
server/upload.py). Out: a job that goes pending -> indexing -> ready (with the article's
summary), or -> failed with a typed error `{code, message}` (no article text found in it).

The add (parse, store, index rebuild, then the other listeners: lessons) runs in the
library's thread after the changes asked for before it (`Library.apply`), so the event
loop keeps answering learners, and the old index answers until the new one is swapped in.
Jobs live in this process's memory (the newest KEEP of them): a job is polled on the host
that took the upload."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from server.errors import NotFound, TutorError
from server.library import Library

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


class UploadJobs:
    def __init__(self, library: Library) -> None:
        self.library = library
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()  # steps are reported from the library's thread
        self._tasks: set[asyncio.Task[None]] = set()  # held, so none is collected mid-run

    def start(self, data: bytes, filename: str) -> dict[str, Any]:
        """Queue the add of a checked upload (on the event loop); the job, pending."""
        with self._lock:
            waiting = sum(job.state not in FINISHED for job in self._jobs.values())
            if waiting >= MAX_WAITING:
                raise TutorError(
                    f"{waiting} articles are being added already; try again when one is done",
                    code="rate_limited",
                )
            job = Job(secrets.token_urlsafe(12), filename)
            self._jobs[job.id] = job
            self._forget_old()
            snapshot = job.to_dict()
        task = asyncio.create_task(self._run(job, data), name=f"upload-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return snapshot

    async def settle(self, timeout: float) -> None:
        """At shutdown, before the store closes: let the adds under way finish (for up to
        `timeout` seconds) rather than pull the database from under them."""
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
            return self.library.add_bytes(data, job.filename, lambda s: self._step(job, s))

        try:
            article, created = await self.library.apply(add)
        except TutorError as exc:  # e.g. no article text in it: the library is unchanged
            log.info("upload %s (%s) failed: %s", job.id, job.filename, exc)
            self._finish(job, "failed", error={"code": exc.code, "message": exc.message})
        except Exception:  # noqa: BLE001 - one upload's failure is its job's, not the server's
            log.exception("upload %s (%s) failed", job.id, job.filename)
            error = {"code": "internal", "message": "adding the article failed"}
            self._finish(job, "failed", error=error)
        else:
            self._finish(job, "ready", article=article.summary(), created=created)

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

    def _forget_old(self) -> None:
        """Past KEEP jobs, drop the oldest finished ones (a waiting job is never dropped)."""
        finished = [i for i, job in self._jobs.items() if job.state in FINISHED]
        for job_id in finished[: max(0, len(self._jobs) - KEEP)]:
            del self._jobs[job_id]
