"""Upload jobs (server/jobs.py) over a real library and store, without the app: the steps
a job goes through, the bound on uploads waiting, and old jobs forgotten."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from server import jobs as jobs_module
from server.errors import NotFound, TutorError
from server.jobs import MAX_WAITING, UploadJobs
from server.library import Library
from server.store import Store

ALPACAS = (
    "Alpaca farming in the Andes\n\nAlpacas are shorn once a year, in spring, for their soft "
    "fleece. The fleece is spun into yarn by farmers in Peru and sold at the market in Cusco "
    "on day {n} of the month.\n"
)


def article(n: int) -> bytes:
    return ALPACAS.format(n=n).encode()


async def finished(jobs: UploadJobs, job_id: str) -> dict:
    while (job := jobs.get(job_id))["state"] not in ("ready", "failed"):
        await asyncio.sleep(0.01)
    return job


@pytest.fixture
def library(tmp_path: Path):
    store = Store(tmp_path / "tutor.db")
    yield Library(store)
    store.close()


def test_a_job_waits_its_turn_then_reports_each_step(library: Library) -> None:
    """Pending while an earlier change runs; indexing, with the article stored, while the
    listeners (the index rebuild, lessons) run; then ready, with the article."""
    jobs = UploadJobs(library)
    ids: list[str] = []
    during: list[dict] = []
    library.on_change(lambda: during.append(jobs.get(ids[0])))

    async def main() -> tuple[dict, dict]:
        gate = threading.Event()
        busy = asyncio.ensure_future(library.apply(gate.wait))  # a change asked for earlier
        ids.append(jobs.start(article(1), "alpacas.txt")["job"])
        await asyncio.sleep(0.05)
        waiting = jobs.get(ids[0])
        gate.set()
        await busy
        return waiting, await finished(jobs, ids[0])

    waiting, done = asyncio.run(main())
    assert waiting["state"] == "pending" and waiting["progress"] == 0
    assert [(j["state"], j["step"]) for j in during] == [("indexing", "stored")]
    assert 0 < during[0]["progress"] < 1 and during[0]["article"] is None
    assert done["state"] == "ready" and done["step"] == "indexed" and done["progress"] == 1
    assert done["created"] is True and done["error"] is None
    assert done["article"]["title"] == "Alpaca farming in the Andes"


def test_uploads_waiting_are_bounded(library: Library) -> None:
    async def main() -> None:
        jobs = UploadJobs(library)
        gate = threading.Event()
        busy = asyncio.ensure_future(library.apply(gate.wait))
        waiting = [jobs.start(article(n), f"a{n}.txt") for n in range(MAX_WAITING)]
        with pytest.raises(TutorError) as refused:
            jobs.start(article(99), "one-more.txt")
        assert refused.value.code == "rate_limited"  # HTTP 429
        gate.set()
        await busy
        done = [await finished(jobs, job["job"]) for job in waiting]
        assert [job["state"] for job in done] == ["ready"] * MAX_WAITING
        assert (await finished(jobs, jobs.start(article(99), "b.txt")["job"]))["state"] == "ready"

    asyncio.run(main())


def test_old_finished_jobs_are_forgotten(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs_module, "KEEP", 2)

    async def main() -> list[str]:
        jobs = UploadJobs(library)
        ids = []
        for n in range(4):
            ids.append(jobs.start(article(n), f"a{n}.txt")["job"])
            await finished(jobs, ids[-1])
        for old in ids[:2]:
            with pytest.raises(NotFound):
                jobs.get(old)
        return [jobs.get(i)["state"] for i in ids[2:]]

    assert asyncio.run(main()) == ["ready", "ready"]
