"""Upload jobs (server/storage/jobs.py) over a real library and store, without the app: the steps
a job goes through, the bound on uploads waiting, and old jobs forgotten."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from server.core.errors import NotFound, TutorError
from server.reason.ingest.document import parse
from server.storage import jobs as jobs_module
from server.storage.jobs import MAX_WAITING, UploadJobs
from server.storage.library import Library
from server.storage.store import Store

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


# --- pending uploads survive a crash ---------------------------------------------------


def pending(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_accepted_upload_is_kept_until_its_article_is_in_the_index(
    library: Library, tmp_path: Path
) -> None:
    """`submit` keeps the bytes and a note before it answers; the job removes both once
    the article is in the library and its index, or once it failed."""
    folder = tmp_path / "uploads"
    jobs = UploadJobs(library, folder)

    async def main() -> tuple[list[str], dict, dict]:
        gate = threading.Event()
        busy = asyncio.ensure_future(library.apply(gate.wait))
        job = await jobs.submit(article(1), "alpacas.txt")
        kept = pending(folder)  # accepted: on disk before anything else happened
        bad = await jobs.submit(b"<html><nav>Home</nav></html>", "nav.html")
        gate.set()
        await busy
        return kept, await finished(jobs, job["job"]), await finished(jobs, bad["job"])

    kept, done, failed = asyncio.run(main())
    assert kept == [f"{done['job']}.json", f"{done['job']}.upload"]
    assert done["state"] == "ready" and failed["state"] == "failed"
    assert failed["error"]["code"] == "empty_document"
    assert pending(folder) == []  # done or failed: nothing left pending
    assert [a.title for a in library.store.articles()] == ["Alpaca farming in the Andes"]


def test_after_a_crash_each_pending_upload_is_finished_or_discarded(
    library: Library, tmp_path: Path
) -> None:
    """What a kill -9 can leave in the pending folder, and what the next start makes of
    it: an upload never accepted (bytes, no note) and a half-written file are discarded;
    an accepted one is added again, also when its article had been stored but its index
    never swapped in (that article is taken out first, so the first index built at start
    does not have it half-added); one that is no article fails and is discarded; one
    whose text the library had before keeps that article."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    store = library.store
    seen: list[set[int]] = []  # the library at each index rebuild
    library.on_change(lambda: seen.append({a.id for a in store.articles()}))

    def leave(job_id: str, data: bytes, note: dict | None) -> None:
        (folder / f"{job_id}.upload").write_bytes(data)
        if note is not None:
            (folder / f"{job_id}.json").write_text(json.dumps(note))

    never = article(1)
    leave("never", never, None)  # bytes on disk, the 202 never sent
    (folder / "torn.json.tmp").write_text('{"filen')
    leave("queued", article(2), {"filename": "queued.txt"})  # accepted, not yet started
    stored = article(3)  # accepted, stored, killed in the index rebuild
    doc = parse(stored, "stored.txt")
    note = {"filename": "stored.txt", "content_hash": doc.content_hash, "new": True}
    leave("stored", stored, note)
    half, _ = store.add_article(doc)
    before = article(4)  # the same text was in the library already: not ours to remove
    had, _ = store.add_article(parse(before, "before.txt"))
    doc4 = parse(before, "before.txt")
    leave("before", before, {"filename": "b.txt", "content_hash": doc4.content_hash, "new": False})
    leave("nav", b"<html><nav>Home</nav></html>", {"filename": "nav.html"})

    jobs = UploadJobs(library, folder)

    async def main() -> tuple[list[int], dict[str, dict]]:
        recovered = await library.apply(jobs.recover)  # at start, before the index
        at_start = [a.id for a in store.articles()]
        jobs.resume(recovered)
        return at_start, {r.job_id: await finished(jobs, r.job_id) for r in recovered}

    at_start, done = asyncio.run(main())
    assert half.id not in at_start and had.id in at_start  # the half-added one is out
    assert sorted(done) == ["before", "nav", "queued", "stored"]
    assert done["queued"]["state"] == done["stored"]["state"] == "ready"
    assert done["stored"]["article"]["id"] != half.id and done["stored"]["created"]
    assert done["before"]["state"] == "ready" and done["before"]["article"]["id"] == had.id
    assert done["nav"]["state"] == "failed" and done["nav"]["error"]["code"] == "empty_document"
    assert pending(folder) == []
    texts = sorted(a.body for a in store.articles())
    assert texts == sorted(parse(article(n), "x.txt").text for n in (2, 3, 4))
    assert seen[-1] == {a.id for a in store.articles()}  # the index has them all
