"""HTTP routes for lessons, and the lifespan hook that starts the background build.

    GET /api/lessons                          id, title, article_id, segment_count, duration_s,
                                              state, error ({code, message} when failed)
    GET /api/lessons/{id}                     segments (text, sources, duration, audio_url), quiz
    GET /api/lessons/{id}/segments/{n}/audio  the narration (Range requests: 206, seekable)

With a token set, the audio URLs are signed and short-lived (an <audio> element cannot
send the token; server/access.py), and the lesson says for how long they hold.

The router's lifespan runs inside the app's (FastAPI merges them), after the services
exist: it builds `services.lessons`, hooks it to library changes and starts building."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from server.access import AUDIO_URL_TTL_S
from server.api import row_id
from server.errors import TutorError
from server.lessons.build import Lessons
from server.services import Services, ServicesDep


def attach(services: Services) -> Lessons:
    """Lessons for a running server: polite to learners, rebuilt on library changes."""
    engines = services.engines
    lessons = Lessons(
        services.store,
        services.settings.cache_dir,
        tts=engines.tts,
        llm=engines.llm,
        voice=engines.synthesizer.name,
        watch=[engines.stt, engines.llm, engines.tts],
        narration_dir=services.settings.narration_path,
        budget_s=services.settings.lesson_budget_s,
    )
    services.lessons = lessons
    services.library.on_change(lessons.changed)
    services.library.on_removal(lessons.changed)  # a DELETE stops its lesson's build at once
    lessons.prune()  # the library may have changed while the server was down
    return lessons


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    lessons = attach(services)
    if services.settings.build_lessons:
        lessons.start()
    try:
        yield
    finally:
        await lessons.stop()


router = APIRouter(lifespan=lifespan)


def _lessons(services: Services) -> Lessons:
    if services.lessons is None:  # pragma: no cover - set by the lifespan above
        raise TutorError("lessons are not available yet", code="not_ready")
    return services.lessons


@router.get("/api/lessons")
async def list_lessons(services: ServicesDep) -> list[dict[str, Any]]:
    return _lessons(services).summaries()


@router.get("/api/lessons/{lesson_id}")
async def get_lesson(lesson_id: str, services: ServicesDep) -> dict[str, Any]:
    lesson = _lessons(services).detail(row_id(lesson_id, "lesson"))
    access = services.access
    if access.token:
        for segment in lesson["segments"]:
            segment["audio_url"] = access.sign(segment["audio_url"])
        lesson["audio_url_expires_in"] = AUDIO_URL_TTL_S
    return lesson


@router.get("/api/lessons/{lesson_id}/segments/{index}/audio")
async def segment_audio(lesson_id: str, index: str, services: ServicesDep) -> FileResponse:
    """Starlette's FileResponse answers Range requests itself (206 + Content-Range)."""
    audio = await _lessons(services).audio(row_id(lesson_id, "lesson"), row_id(index, "segment"))
    return FileResponse(
        audio.path, media_type=audio.media_type, headers={"Cache-Control": "no-cache"}
    )  # rebuilt lessons change it
