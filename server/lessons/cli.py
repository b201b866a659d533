"""`tutor lessons build` and `tutor lessons list`: the work behind the commands.

Build loads only the models lessons need (the LLM for rephrasing, Piper for narration),
builds flat out (no learners to give way to) and reports progress per phase."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from server.config import Settings
from server.lessons.build import Lessons
from server.store import Store

PHASES = {"scripts": "Writing scripts", "narration": "Recording narration"}


def open_lessons(settings: Settings, *, use_llm: bool, narrate: bool) -> Lessons:
    from server import catalog
    from server.engines import LlamaResponder, ModelWorker, PiperSynthesizer
    from server.library import Library

    store = Store(settings.db_path)
    Library(store).seed(settings.corpus_dir)
    llm = tts = None
    if use_llm:
        path = catalog.resolve("llm", settings.llm_model, settings.cache_dir)
        llm = ModelWorker(
            LlamaResponder(path, settings.llm_model, settings.threads, settings.llm_context), "llm"
        )
    if narrate:
        path = catalog.resolve("tts", settings.tts_voice, settings.cache_dir)
        tts = ModelWorker(PiperSynthesizer(path, settings.tts_voice, settings.threads), "tts")
    return Lessons(
        store, settings.cache_dir, tts=tts, llm=llm, voice=settings.tts_voice, polite=False
    )


def build(settings: Settings, console: Console, *, use_llm: bool, narrate: bool) -> None:
    lessons = open_lessons(settings, use_llm=use_llm, narrate=narrate)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        tasks: dict[str, int] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(PHASES.get(phase, phase), total=total)
            progress.update(tasks[phase], completed=done)

        rebuilt = asyncio.run(lessons.sync(narrate=narrate, progress=report))
    console.print(f"{len(rebuilt)} lesson(s) built; {len(lessons.summaries())} in all")


def table(settings: Settings, voice: str) -> Table:
    lessons = Lessons(Store(settings.db_path), settings.cache_dir, tts=None, voice=voice)
    out = Table("id", "title", "article", "segments", "quiz", "narration")
    for s in lessons.summaries():
        quiz = len(lessons.script(s["id"]).quiz)
        length = f"{s['duration_s']:.0f} s" if s["duration_s"] else "not yet"
        out.add_row(
            str(s["id"]),
            s["title"],
            str(s["article_id"] or "all"),
            str(s["segment_count"]),
            str(quiz),
            length,
        )
    return out
