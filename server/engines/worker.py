"""The worker in front of each engine: its threads and a priority queue.

Inference is blocking, so every engine runs on a worker's threads: that keeps it off the
event loop and serves sessions in priority, then arrival, order. An in-process model gets
one slot (one thread): a llama.cpp context is not thread-safe, and the models share the
cores anyway. A remote server that serves several requests at once gets `slots` threads,
so one learner's long answer does not queue another's behind it on our side."""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from server.core.errors import EngineError
from server.core.metrics import ENGINE_ERRORS
from server.engines.interfaces import NORMAL

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _BatchJob:
    """A call that may share one pass of the model with others of the same key."""

    key: Hashable
    item: Any
    run: Callable[[list[Any]], list[Any]]
    future: Future[Any]
    limit: int


class ModelWorker:
    """`slots` threads, one priority queue, one engine.

    The queue decides which learner's job runs next (FIFO within a priority), so one
    learner's long reply doesn't hold back another's first sentence."""

    def __init__(self, engine: Any, label: str, slots: int = 1) -> None:
        self.engine = engine
        self.label = label
        self.slots = max(1, slots)
        self.in_flight = 0  # calls queued or running (counted on the event loop)
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | _BatchJob | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._run, name=f"model-{label}-{i}", daemon=True)
            for i in range(self.slots)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        """Calls a new call would wait behind: with one slot, every call in flight; with
        more, those past the slots it could still run beside. The Answerer sheds a spoken
        turn's LLM call when this is not 0, and lessons give way while others' calls
        show here."""
        return max(0, self.in_flight - self.slots + 1)

    @pending.setter
    def pending(self, value: int) -> None:
        # Tests stand in for a learner's call this way (`worker.pending += 1`).
        self.in_flight = value + self.slots - 1 if value > 0 else 0

    def _run(self) -> None:
        while True:
            priority, _, job = self._queue.get()
            if job is None:
                return
            if isinstance(job, _BatchJob):
                self._run_batch(priority, job)
            else:
                job()

    def _run_batch(self, priority: int, first: _BatchJob) -> None:
        """Run `first` with every job queued behind it at the same priority under the
        same key (up to `first.limit`): the rest of the queue keeps its order."""
        batch, others = [first], []
        while len(batch) < first.limit:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            job = entry[2]
            if isinstance(job, _BatchJob) and entry[0] == priority and job.key == first.key:
                batch.append(job)
            else:
                others.append(entry)
        for entry in others:
            self._queue.put(entry)
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = first.run([job.item for job in live])
            if len(results) != len(live):
                raise EngineError(f"a batch of {len(live)} calls gave {len(results)} results")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for job in live:
                job.future.set_exception(exc)
            return
        for job, result in zip(live, results, strict=True):
            job.future.set_result(result)

    def submit(self, fn: Callable[..., T], *args: Any, priority: int = NORMAL) -> Future[T]:
        future: Future[T] = Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return  # cancelled while queued: skip it
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)

        self._queue.put((priority, next(self._order), job))
        return future

    async def call(self, fn: Callable[..., T], *args: Any, priority: int = NORMAL) -> T:
        self.in_flight += 1
        try:
            return await asyncio.wrap_future(self.submit(fn, *args, priority=priority))
        finally:
            self.in_flight -= 1

    async def call_batched(
        self,
        run: Callable[[list[Any]], list[T]],
        item: Any,
        key: Hashable,
        *,
        priority: int = NORMAL,
        limit: int = 8,
    ) -> T:
        """`run([item])[0]`, but run together with the calls of the same `key` and
        priority that are queued when this one's turn comes (`run` takes the items in
        order and returns one result each): several learners' final transcripts in one
        pass of the model."""
        future: Future[T] = Future()
        self.in_flight += 1
        try:
            self._queue.put((priority, next(self._order), _BatchJob(key, item, run, future, limit)))
            return await asyncio.wrap_future(future)
        finally:
            self.in_flight -= 1

    async def stream(
        self, make_iter: Callable[[threading.Event], Iterator[T]], priority: int = NORMAL
    ) -> AsyncIterator[T]:
        """Run a blocking generator on a worker thread and yield its items here.

        Closing the async iterator (cancellation, a break) sets the cancel event, which the
        generator checks between items, so the thread is freed promptly."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()

        def produce() -> None:
            try:
                for item in make_iter(cancel):
                    loop.call_soon_threadsafe(items.put_nowait, ("item", item))
                    if cancel.is_set():
                        break
                loop.call_soon_threadsafe(items.put_nowait, ("end", None))
            except BaseException as exc:  # noqa: BLE001 - re-raised on the loop side
                loop.call_soon_threadsafe(items.put_nowait, ("error", exc))

        self.in_flight += 1
        future = self.submit(produce, priority=priority)
        try:
            while True:
                kind, value = await items.get()
                if kind == "item":
                    yield value
                elif kind == "end":
                    break
                else:
                    raise value
        finally:
            cancel.set()
            self.in_flight -= 1
            future.cancel()  # still queued: never runs; running: stops at the next item

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put((-1, -1, None))


class FailSoft:
    """A worker as a caller with its own fallback sees it: an engine that could not answer
    (EngineError: a remote server down or silent) ends the stream early instead of failing
    the call, so the Answerer says its extractive answer, as it does for an LLM answer that
    fails verification or misses its deadline. The error is logged and counted
    (`tutor_engine_errors_total`), and the engine keeps it for /healthz. Lessons use the
    worker itself: a lesson the LLM could not rephrase fails and is retried later."""

    def __init__(self, worker: ModelWorker) -> None:
        self.worker = worker
        self.label = worker.label

    @property
    def engine(self) -> Any:
        return self.worker.engine

    @property
    def pending(self) -> int:
        return self.worker.pending

    async def call(self, fn: Callable[..., T], *args: Any, priority: int = NORMAL) -> T:
        return await self.worker.call(fn, *args, priority=priority)

    async def stream(
        self, make_iter: Callable[[threading.Event], Iterator[T]], priority: int = NORMAL
    ) -> AsyncIterator[T]:
        stream = self.worker.stream(make_iter, priority)
        try:
            async for item in stream:
                yield item
        except EngineError as exc:
            ENGINE_ERRORS.labels(engine=self.label, code=exc.code).inc()
            log.warning("%s engine failed (%s): %s", self.label, exc.code, exc.message)
        finally:
            await stream.aclose()
