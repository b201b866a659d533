"""HTTP routes for learners: profile, progress, review, export, erasure.

    GET    /api/learners/{id}           the profile: id, display_name, speed, created_at
    PUT    /api/learners/{id}           {display_name?, speed?}: changes them
    GET    /api/learners/{id}/progress  per article: key points, state, mastery, due; next
    GET    /api/learners/{id}/review    the quiz items due now, where to ask them
    GET    /api/learners/{id}/export    everything stored (JSON; Markdown with ?format=md
                                        or Accept: text/markdown)
    DELETE /api/learners/{id}           erases all of it (204)

Behind the same gates as every /api route (the token and Origin checks in app.py's
middleware), and each one the learner's own: it takes the learner's secret (which `ready`
handed over when the server made the learner) in the `X-Learner-Secret` header, compared
with its stored hash. An unknown learner, a missing secret and another learner's secret
are the same 404 `not_found`, so which ids exist cannot be told. An id not of the
server's shape (protocol.LEARNER_ID) is 422 `bad_request`. Reading the lessons and the
record takes milliseconds, but a long history is exported off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from server.core.errors import NotFound
from server.core.protocol import LEARNER_ID, LEARNER_SECRET_HEADER, PlainText
from server.session.services import Services, ServicesDep
from server.storage.store import Store
from server.teach import learners
from server.teach.export import export, markdown
from server.teach.progress import due_review, progress
from server.teach.record import MAX_SPEED, MIN_SPEED

router = APIRouter()
PRIVATE = {"Cache-Control": "no-store"}  # a learner's record: never kept by a cache


def unknown(learner_id: str) -> NotFound:
    """What an unknown learner and a wrong secret both get (the id is checked: short)."""
    return NotFound(f"no learner {learner_id}")


def owned(
    learner_id: Annotated[str, Path(max_length=64, pattern=LEARNER_ID)],
    request: Request,
    services: ServicesDep,
) -> str:
    """The path's learner, when the request holds its secret; else 404."""
    if not services.store.learner_ok(learner_id, request.headers.get(LEARNER_SECRET_HEADER)):
        raise unknown(learner_id)
    return learner_id


Owned = Annotated[str, Depends(owned)]


def check_learner(services: Services, learner_id: str | None, request: Request) -> None:
    """For a route that names a learner elsewhere (`/api/ask`): the same check."""
    if learner_id is not None and not services.store.learner_ok(
        learner_id, request.headers.get(LEARNER_SECRET_HEADER)
    ):
        raise unknown(learner_id)


class LearnerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: PlainText | None = Field(None, max_length=80)
    # Speaking speed: 1.0 Piper's own pace, 1.25 a quarter faster, 0.8 slower.
    speed: float | None = Field(None, ge=MIN_SPEED, le=MAX_SPEED)


def _known(store: Store, learner_id: str) -> learners.Profile:
    found = learners.profile(store, learner_id)
    if found is None:  # erased since its secret was checked
        raise unknown(learner_id)
    return found


@router.get("/api/learners/{learner_id}")
async def get_learner(learner_id: Owned, services: ServicesDep) -> JSONResponse:
    return JSONResponse(_known(services.store, learner_id).to_dict(), headers=PRIVATE)


@router.put("/api/learners/{learner_id}")
async def put_learner(
    learner_id: Owned, body: LearnerUpdate, services: ServicesDep
) -> JSONResponse:
    changes: dict[str, Any] = {}
    if "display_name" in body.model_fields_set:
        changes["display_name"] = " ".join((body.display_name or "").split()) or None
    if "speed" in body.model_fields_set:
        changes["speed"] = 1.0 if body.speed is None else body.speed
    saved = learners.save_profile(services.store, learner_id, changes)
    if saved is None:
        raise unknown(learner_id)
    return JSONResponse(saved.to_dict(), headers=PRIVATE)


@router.get("/api/learners/{learner_id}/progress")
async def get_progress(learner_id: Owned, services: ServicesDep) -> JSONResponse:
    return await _as_of_now(progress, services.store, learner_id)


@router.get("/api/learners/{learner_id}/review")
async def get_review(learner_id: Owned, services: ServicesDep) -> JSONResponse:
    return await _as_of_now(due_review, services.store, learner_id)


async def _as_of_now(
    view: Callable[[Store, str, float], dict[str, Any]], store: Store, learner_id: str
) -> JSONResponse:
    """A known learner's view at this moment, made off the event loop; never cached."""
    _known(store, learner_id)
    body = await asyncio.to_thread(view, store, learner_id, time.time())
    return JSONResponse(body, headers=PRIVATE)


@router.get("/api/learners/{learner_id}/export")
async def get_export(
    learner_id: Owned,
    services: ServicesDep,
    request: Request,
    format: Annotated[Literal["json", "md"] | None, Query()] = None,
) -> Response:
    data = await asyncio.to_thread(export, services.store, learner_id, time.time())
    wants_md = format == "md" or (
        format is None and "text/markdown" in request.headers.get("accept", "")
    )
    if not wants_md:
        return JSONResponse(data, headers=PRIVATE)
    return Response(
        markdown(data),
        media_type="text/markdown; charset=utf-8",
        headers={
            **PRIVATE,
            "Content-Disposition": f'attachment; filename="learner-{learner_id}.md"',
        },
    )


@router.delete("/api/learners/{learner_id}", status_code=204)
async def delete_learner(learner_id: Owned, services: ServicesDep) -> None:
    if not learners.erase(services.store, learner_id):
        raise unknown(learner_id)
