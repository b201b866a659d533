"""Building and serving lessons.

In: the store (articles), the LLM and TTS workers. Out: lesson scripts in SQLite and
narration files on disk, kept until their article changes.

    articles ─▶ draft (extractive) ─▶ LLM rephrasing, kept only if verified ─▶ SQLite
    segments ─▶ Piper, one sentence at a time ─▶ Opus file in the narration cache

The server builds in a background task that gives way to learners: before each model
call it waits until no one else's work is queued on any model worker, and it abandons
an LLM rephrasing the moment a learner's request arrives (it is retried later). So a
learner's turn waits at most for one sentence of narration to finish synthesising.

Bounded: a lesson's cost has a ceiling whatever its article's length (the draft scores
at most `script.MAX_SENTENCES` sentences; at most `MAX_POINTS` points are rephrased and
narrated), and the lesson being built is abandoned as soon as its article is deleted or
changed (drafting stops at its next sentence). No sentence costs more than a fixed
amount: drafting leaves out sentences past `script.DRAFT_MAX_WORDS` words and reads a
paragraph only to `script.READ_MAX_CHARS` characters. And each build has a time budget,
BUILD_BUDGET_S (the time it waits for learners not counted): past it the build stops and
the lesson is failed with `build_timeout`. Each lesson's state is in `summaries()`: ready,
queued or building (a rebuild is under way; the stored one serves meanwhile), or failed,
with its typed reason (`error: {code, message}`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.core.errors import EngineError, NotFound, TutorError
from server.engines import BACKGROUND, NORMAL, ModelWorker
from server.lessons import records
from server.lessons.narration import Audio, NarrationCache
from server.lessons.quiz import QuizQuestion
from server.lessons.script import (
    SCRIPT_VERSION,
    BuildCancelled,
    LessonError,
    Script,
    Segment,
    draft,
    draft_all,
    say,
    verified,
)
from server.reason.text import sentences, terms
from server.storage.store import Store

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (phase, done, total)
Drafter = Callable[[threading.Event], Script]  # drafts a script; stops when the event is set
REPHRASE_OVER_WORDS = 18  # shorter points are already easy to follow by ear
# The longest one lesson's build (drafting and rephrasing) may take, in seconds, not
# counting the time it waits for learners' turns: past it the build is stopped and the
# lesson failed with `build_timeout` (retried at the library's next change). The default
# of TUTOR_LESSON_BUDGET_S (Settings.lesson_budget_s).
BUILD_BUDGET_S = 600.0
REPHRASE_PROMPT = (
    "You rewrite article text for a spoken lesson. Use short, simple sentences. Keep every "
    "name and number exactly. Add nothing. Plain text, no lists, no markdown."
)


class Lessons:
    def __init__(
        self,
        store: Store,
        cache_dir: Path,
        *,
        tts: ModelWorker | None,
        llm: ModelWorker | None = None,
        voice: str | None = None,
        watch: list[ModelWorker] | None = None,
        polite: bool = True,
        grace_s: float = 1.0,
        narration_dir: Path | None = None,
        budget_s: float | None = None,
    ) -> None:
        """`watch`: the workers whose queues mean a learner is waiting (default: llm, tts);
        `polite=False` (the CLI) builds flat out. `narration_dir`: the audio files' folder
        (TUTOR_NARRATION_DIR, which hosts may share); default <cache_dir>/narration."""
        self.store = store
        self.narration = NarrationCache(narration_dir or cache_dir / "narration")
        self.tts, self.llm = tts, llm
        self.voice = voice or (tts.engine.name if tts else "none")
        self.watch = watch if watch is not None else [w for w in (llm, tts) if w]
        self.polite, self.grace_s = polite, grace_s
        self.budget_s = budget_s if budget_s is not None else BUILD_BUDGET_S
        self._own = 0  # our calls in flight (they show in the workers' pending counts)
        self._last_busy = float("-inf")  # when we last saw a learner's work queued
        self._rendering: dict[str, asyncio.Task[Audio]] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # Lesson id -> "queued" | "building" | "failed" (absent: ready), and why it failed.
        self._states: dict[int, str] = {}
        self._failures: dict[int, dict[str, str]] = {}  # {code, message}
        self._budget: asyncio.Timeout | None = None  # the build under way's time budget
        # The lesson being built now: (id, what it is built from, its task).
        self._building: tuple[int, str, asyncio.Task[Script]] | None = None
        records.ensure_schema(store)

    # --- reading ----------------------------------------------------------------------

    def summaries(self) -> list[dict[str, Any]]:
        """Every lesson, built or not: a lesson not built yet (queued, building, failed) is
        listed with its state and no parts, so a learner sees it coming."""
        out = []
        stored = records.load_all(self.store)
        for lesson in stored:
            durations = [self._duration(s.text) for s in lesson.script.segments]
            known = None if None in durations else round(sum(d or 0 for d in durations), 2)
            out.append(
                {
                    "id": lesson.id,
                    "title": lesson.title,
                    "article_id": lesson.article_id,
                    "segment_count": len(durations),
                    "duration_s": known,
                    "built_at": lesson.built_at,
                    "state": self._states.get(lesson.id, "ready"),
                    "error": self._failures.get(lesson.id),
                }
            )
        built = {lesson.id for lesson in stored}
        for lesson_id, state in sorted(self._states.items()):
            if lesson_id in built:
                continue
            try:
                title = (
                    "All the articles" if lesson_id == 0 else self.store.article(lesson_id).title
                )
            except NotFound:
                continue  # its article is gone; the build will drop it
            out.append(
                {
                    "id": lesson_id,
                    "title": title,
                    "article_id": lesson_id or None,
                    "segment_count": 0,
                    "duration_s": None,
                    "built_at": None,
                    "state": state,
                    "error": self._failures.get(lesson_id),
                }
            )
        return out

    def detail(self, lesson_id: int) -> dict[str, Any]:
        try:
            lesson = records.load(self.store, lesson_id)
        except NotFound:
            if state := self._states.get(lesson_id):  # not built yet, and says so
                failure = self._failures.get(lesson_id)
                why = f": {failure['message']}" if failure else ""
                raise NotFound(f"lesson {lesson_id} is {state}{why}", code="not_ready") from None
            raise
        return {
            "id": lesson.id,
            "title": lesson.title,
            "article_id": lesson.article_id,
            "built_at": lesson.built_at,
            "segments": [
                {
                    "index": s.index,
                    "kind": s.kind,
                    "text": s.text,
                    "sources": [x.to_dict() for x in s.sources],
                    "duration_s": self._duration(s.text),
                    "audio_url": f"/api/lessons/{lesson.id}/segments/{s.index}/audio",
                }
                for s in lesson.script.segments
            ],
            # The options hold the answer among the others; which one it is stays here.
            "quiz": [
                {"index": q.index, "question": q.question, "kind": q.kind, "options": q.options}
                for q in lesson.script.quiz
            ],
        }

    def _duration(self, text: str) -> float | None:
        audio = self.narration.get(text, self.voice)
        return round(audio.duration_s, 2) if audio else None

    def article_for(self, lesson_id: int, segment: int = 0) -> int | None:
        """The article a lesson teaches; for the lesson across all articles, the article
        the current segment quotes (None if it quotes several or none)."""
        article = records.article_for(self.store, lesson_id)
        if article is not None:
            return article
        try:
            segments = self.script(lesson_id).segments
        except TutorError:
            return None
        if not 0 <= segment < len(segments):
            return None
        quoted = {source.article_id for source in segments[segment].sources}
        return quoted.pop() if len(quoted) == 1 else None

    def script(self, lesson_id: int) -> Script:
        return records.load(self.store, lesson_id).script

    def question(self, lesson_id: int, index: int) -> QuizQuestion:
        quiz = self.script(lesson_id).quiz
        if not 0 <= index < len(quiz):
            raise NotFound(f"lesson {lesson_id} has no quiz question {index}")
        return quiz[index]

    async def audio(self, lesson_id: int, index: int) -> Audio:
        """A segment's narration, rendered now if the background build hasn't yet (a
        learner is waiting: no courtesy pauses). Concurrent requests share one render."""
        segments = self.script(lesson_id).segments
        if not 0 <= index < len(segments):
            raise NotFound(f"lesson {lesson_id} has no segment {index}")
        text = segments[index].text
        if cached := self.narration.get(text, self.voice):
            return cached
        if self.tts is None:
            raise NotFound("narration is not available (no voice loaded)")
        key = str(self.narration.path(text, self.voice))
        if key not in self._rendering:
            self._rendering[key] = asyncio.create_task(self._render(text, polite=False))
            self._rendering[key].add_done_callback(lambda _: self._rendering.pop(key, None))
        return await asyncio.shield(self._rendering[key])

    # --- building ---------------------------------------------------------------------

    def plan(self) -> tuple[dict[int, tuple[str, Drafter]], list[int], list[int]]:
        """(wanted lessons: id -> (built_from, drafter), stale ids, ids to delete)."""
        articles = self.store.articles()
        want: dict[int, tuple[str, Drafter]] = {
            a.id: (f"{SCRIPT_VERSION}:{a.content_hash}", lambda stop, a=a: draft(a, stop))
            for a in articles
        }
        if len(articles) >= 2:
            digest = hashlib.sha256(" ".join(a.content_hash for a in articles).encode())
            want[records.ALL_ARTICLES] = (
                f"{SCRIPT_VERSION}:{digest.hexdigest()[:32]}",
                lambda stop: draft_all(articles, stop),
            )
        have = records.built_from(self.store)
        stale = [i for i in want if have.get(i) != want[i][0]]
        stale.sort(key=lambda i: (i == records.ALL_ARTICLES, i))
        return want, stale, [i for i in have if i not in want]

    def prune(self) -> list[int]:
        """Drop, now, the lessons the library no longer backs, whether or not the builder
        runs: an article's lesson goes with it (the database cascades), and the lesson
        across all articles goes when fewer than two articles remain or when it quotes
        one that is gone (the builder, when it runs, makes a new one). Returns the ids
        dropped."""
        want, _, drop = self.plan()
        everything = records.ALL_ARTICLES
        if everything in want and everything in records.built_from(self.store):
            script = self.script(everything)
            quoted = {s.article_id for seg in script.segments for s in seg.sources}
            quoted |= {q.source.article_id for q in script.quiz}
            if not quoted <= want.keys():
                drop.append(everything)
        if drop:
            records.delete(self.store, drop)
            log.info("dropped lessons %s: their articles are gone", drop)
        return drop

    def _wanted(self, lesson_id: int, source: str) -> bool:
        """Whether the library still wants this lesson built from this source."""
        want, _, _ = self.plan()
        return lesson_id in want and want[lesson_id][0] == source

    async def sync(self, narrate: bool = True, progress: Progress | None = None) -> list[int]:
        """Build what is missing or stale, drop lessons of removed articles, then render
        missing narration. Returns the ids of the lessons (re)built. A lesson whose
        article changes or goes meanwhile is abandoned (the next sync builds the new one);
        one that fails is marked failed and the others are built."""
        want, stale, gone = self.plan()
        if gone:
            records.delete(self.store, gone)
        self._states = {i: "queued" for i in stale}
        self._failures = {}
        built = []
        for done, lesson_id in enumerate(stale):
            source, make = want[lesson_id]
            if not self._wanted(lesson_id, source):  # changed since the plan
                self._states.pop(lesson_id, None)
                continue
            job = asyncio.create_task(self._draft(lesson_id, make))
            self._building = (lesson_id, source, job)
            try:
                script = await job
                if not self._wanted(lesson_id, source):
                    raise BuildCancelled
                records.save(self.store, lesson_id, script, source)
            except (asyncio.CancelledError, BuildCancelled):
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise  # the builder itself is stopping
                self._states.pop(lesson_id, None)
                log.info("stopped building lesson %d: its article changed or went", lesson_id)
                continue
            except (EngineError, LessonError) as exc:  # expected: no traceback to read
                self._fail(lesson_id, exc.code, exc.message)
                log.warning("building lesson %d failed (%s): %s", lesson_id, exc.code, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one lesson's failure stops only it
                self._fail(
                    lesson_id, exc.code if isinstance(exc, TutorError) else "internal", str(exc)
                )
                log.exception("building lesson %d failed", lesson_id)
                continue
            finally:
                self._building = None
            self._states.pop(lesson_id, None)
            built.append(lesson_id)
            log.info(
                "built lesson %d: %s (%d segments, %d quiz questions)",
                lesson_id,
                script.title,
                len(script.segments),
                len(script.quiz),
            )
            if progress:
                progress("scripts", done + 1, len(stale))
        if narrate and self.tts is not None:
            await self.narrate_all(progress)
        return built

    def _fail(self, lesson_id: int, code: str, message: str) -> None:
        self._states[lesson_id] = "failed"
        self._failures[lesson_id] = {"code": code, "message": message}

    async def _draft(self, lesson_id: int, make: Drafter) -> Script:
        """Draft one lesson (in a thread) and let the LLM rephrase it, within the time
        budget; cancelling this task, or running out of budget, also stops the drafting
        thread (at its next sentence)."""
        stop = threading.Event()
        budget = asyncio.timeout(self.budget_s)
        try:
            await self._quiet()
            self._states[lesson_id] = "building"
            async with budget:
                self._budget = budget
                script = await asyncio.to_thread(make, stop)
                if self.llm is not None:
                    await self._rephrase(script)
                script.segments = [s for s in script.segments if verified(s) or s.kind != "point"]
        except TimeoutError:
            stop.set()
            if not budget.expired():
                raise  # not ours
            raise LessonError(
                f"building lesson {lesson_id} took longer than {self.budget_s:g} s",
                code="build_timeout",
            ) from None
        except BaseException:  # cancelled (its article changed or went), or failed
            stop.set()
            raise
        finally:
            self._budget = None
        return script

    async def narrate_all(self, progress: Progress | None = None) -> int:
        """Render every segment that has no narration yet, skipping lessons rebuilt or
        dropped meanwhile; returns how many it rendered."""
        todo: dict[str, tuple[int, str]] = {}  # text -> (lesson, what it was built from)
        for lesson in records.load_all(self.store):
            for s in lesson.script.segments:
                if not self.narration.get(s.text, self.voice):
                    todo.setdefault(s.text, (lesson.id, lesson.built_from))
        rendered = 0
        for done, (text, (lesson_id, source)) in enumerate(todo.items()):
            if records.built_from(self.store).get(lesson_id) == source:
                await self._render(text, polite=self.polite)
                rendered += 1
            if progress:
                progress("narration", done + 1, len(todo))
        return rendered

    async def _render(self, text: str, polite: bool) -> Audio:
        assert self.tts is not None
        tts = self.tts
        parts = []
        for sentence in sentences(text):
            if polite:
                await self._quiet()
            self._own += 1
            try:
                parts.append(
                    await tts.call(
                        lambda s=sentence: b"".join(tts.engine.synthesize(s)),
                        # The background build yields; a learner waiting for it doesn't.
                        priority=BACKGROUND if polite else NORMAL,
                    )
                )
            finally:
                self._own -= 1
        rate = tts.engine.sample_rate
        return await asyncio.to_thread(self.narration.put, text, self.voice, b"".join(parts), rate)

    async def _rephrase(self, script: Script) -> None:
        """Let the LLM say long points more simply; keep its words only when they are
        shorter, keep most of the point's content words, and pass the grounding check."""
        for segment in script.segments:
            if segment.kind != "point" or len(segment.text.split()) <= REPHRASE_OVER_WORDS:
                continue
            messages = [
                {"role": "system", "content": REPHRASE_PROMPT},
                {"role": "user", "content": f"Rewrite: {segment.text}"},
            ]
            while (reply := await self._generate(messages)) is None:
                await self._quiet()  # a learner needed the LLM: try again afterwards
            candidate = say(reply.strip().split("\n\n")[0].removeprefix("Rewrite:"))
            trial = Segment(segment.index, segment.kind, candidate, segment.sources, llm=True)
            wanted = set(terms(segment.text))
            if (
                candidate
                and len(candidate.split()) < len(segment.text.split())
                and len(wanted & set(terms(candidate))) >= 0.6 * len(wanted)
                and verified(trial)
            ):
                segment.text, segment.llm = candidate, True
            else:
                log.debug("kept the article's words for %r (LLM said %r)", segment.text, reply)

    async def _generate(self, messages: list[dict[str, str]]) -> str | None:
        """The LLM's whole reply, or None if a learner's request arrived meanwhile."""
        assert self.llm is not None
        await self._quiet()
        responder = self.llm.engine
        stream = self.llm.stream(
            lambda cancel: responder.stream(messages, 80, cancel), priority=BACKGROUND
        )
        parts: list[str] = []
        self._own += 1
        try:
            async for piece in stream:
                parts.append(piece)
                if self.polite and self._others_busy():
                    self._last_busy = asyncio.get_running_loop().time()
                    return None
        finally:
            await stream.aclose()
            self._own -= 1
        return "".join(parts)

    # --- courtesy ---------------------------------------------------------------------

    def _others_busy(self) -> bool:
        return sum(w.pending for w in self.watch) > self._own

    async def _quiet(self) -> None:
        """Wait until no one else's work has been queued on the models for `grace_s`
        (no wait at all when we have seen none)."""
        if not self.polite:
            return
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            while True:
                if self._others_busy():
                    self._last_busy = loop.time()
                elif loop.time() - self._last_busy >= self.grace_s:
                    return  # (the gaps inside a learner's turn are shorter than the grace)
                await asyncio.sleep(0.05)
        finally:
            budget, waited = self._budget, loop.time() - began
            # Waiting for learners is not building (once expired, the budget is spent).
            if budget is not None and not budget.expired() and waited > 0:
                if (when := budget.when()) is not None:
                    budget.reschedule(when + waited)

    # --- background -------------------------------------------------------------------

    def start(self) -> None:
        """Build in the background now, and again after every library change."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="lessons")

    def changed(self) -> None:
        """Library listener (may be called from any thread): what the library no longer
        backs goes at once; the builder, if running, is woken for the rest."""
        try:
            self.prune()
        except Exception:  # noqa: BLE001 - a library change must not fail on lessons
            log.exception("dropping the lessons of removed articles failed")
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._on_change)

    def _on_change(self) -> None:
        """On the loop: abandon the lesson being built if its article changed or went,
        and wake the builder for what is new."""
        if self._building is not None:
            lesson_id, source, job = self._building
            if not self._wanted(lesson_id, source):
                job.cancel()
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.sync()
            except Exception:  # noqa: BLE001 - the next library change retries
                log.exception("building lessons failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
