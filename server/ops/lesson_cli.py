"""`tutor lessons build` and `tutor lessons list`: the work behind the commands.

Build loads only the models lessons need (the LLM for rephrasing, Piper for narration),
builds flat out (no learners to give way to) and reports progress per phase."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from server.core.config import Settings
from server.lessons.build import Lessons
from server.storage.store import Store

PHASES = {"scripts": "Writing scripts", "narration": "Recording narration"}


def open_lessons(settings: Settings, *, use_llm: bool, narrate: bool) -> Lessons:
    from server.session.services import open_services

    roles = [role for role, wanted in (("llm", use_llm), ("tts", narrate)) if wanted]
    services = open_services(settings, roles=roles)
    engines = services.engines
    return Lessons(
        services.store,
        settings.cache_dir,
        tts=engines.tts if narrate else None,
        llm=engines.llm if use_llm else None,
        voice=settings.tts_voice,
        polite=False,
        narration_dir=settings.narration_path,
        budget_s=settings.lesson_budget_s,
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
    lessons = Lessons(
        Store(settings.database),
        settings.cache_dir,
        tts=None,
        voice=voice,
        narration_dir=settings.narration_path,
    )
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
