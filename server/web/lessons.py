"""HTTP routes for lessons (the lessons themselves are built by `Services.open_lessons`,
which the app's lifespan calls).

    GET /api/lessons                          id, title, article_id, segment_count, duration_s,
                                              state, error ({code, message} when failed)
    GET /api/lessons/{id}                     segments (text, sources, duration, audio_url), quiz
    GET /api/lessons/{id}/segments/{n}/audio  the narration (Range requests: 206, seekable)

With a token set, the audio URLs are signed and short-lived (an <audio> element cannot
send the token; server/session/access.py), and the lesson says for how long they hold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server.core.errors import TutorError
from server.lessons.build import Lessons
from server.session.access import AUDIO_URL_TTL_S
from server.session.services import Services, ServicesDep
from server.web.api import row_id

router = APIRouter()


def _lessons(services: Services) -> Lessons:
    if services.lessons is None:  # pragma: no cover - set by the app's lifespan
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
