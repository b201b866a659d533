"""HTTP routes: thin wrappers over the library, the store and the turn runner."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from server.core.errors import IngestError, NotFound, TutorError, shown
from server.core.protocol import (
    LEARNER_ID,
    LEARNER_SECRET_HEADER,
    SESSION_ID,
    SESSION_SECRET_HEADER,
    PlainText,
    resume_notice,
)
from server.lessons.records import scores
from server.reason.answer.respond import Answer
from server.session.access import client_key
from server.session.services import Services, ServicesDep
from server.web.learners import check_learner
from server.web.upload import check_article, check_filename, read_file_field

router = APIRouter()
ROW_ID = re.compile(r"-?[0-9]{1,19}")
ROW_ID_MAX = 2**63 - 1  # SQLite's INTEGER range: larger ids can't exist, only overflow


def row_id(raw: str, what: str) -> int:
    """A path id as a database id; anything that can't be one (not an integer, or out of
    SQLite's range) is simply not found, never a 422 or a 500."""
    if ROW_ID.fullmatch(raw) and -ROW_ID_MAX - 1 <= int(raw) <= ROW_ID_MAX:
        return int(raw)
    raise NotFound(f"no {what} with id {raw[:40]}")


@router.get("/healthz")
async def healthz(services: ServicesDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "host": services.settings.host_label,
        # Each engine's kind and address; a remote one is probed (a blocking call).
        "models": await asyncio.to_thread(services.engines.describe),
        "articles": services.store.article_count(),
        "passages": len(services.index.passages),
        # "loading" at start, while the index loads behind the learners (server/web/app.py).
        "index": "ready" if services.index_ready.is_set() else "loading",
        "store": services.store.describe(),  # the SQLite file's name, or Postgres's host
        "ready_seconds": round(services.ready_seconds, 3),
        "uptime_seconds": round(time.time() - services.started_at, 1),
    }


@router.get("/livez")
async def livez(services: ServicesDep) -> dict[str, Any]:
    """For a load balancer's health checks, every second or so: the host is up and its
    event loop answers. Nothing is probed (/healthz asks every remote engine, which on
    a busy machine can take longer than a check may wait)."""
    return {"status": "ok", "host": services.settings.host_label}


@router.get("/api/articles")
async def list_articles(services: ServicesDep) -> list[dict[str, Any]]:
    return [a.summary() for a in services.store.articles()]


@router.get("/api/articles/{article_id}")
async def get_article(article_id: str, services: ServicesDep) -> dict[str, Any]:
    article = services.store.article(row_id(article_id, "article"))
    return {**article.summary(), "paragraphs": article.paragraphs}


@router.post("/api/articles", status_code=202)
async def upload_article(services: ServicesDep, request: Request) -> Any:
    """Add a .txt/.md/.html article (multipart field `file`): 202 with its job (poll
    `/api/articles/jobs/{job}`). Refused at once: 413 past the size limit (read as it
    streams, never spooled), 415 for other types, 400 for an empty, binary or unreadable
    file. Parsing, the database write, the index rebuild and what follows an add run in
    the library's thread (server/storage/jobs.py): the event loop keeps serving meanwhile."""
    try:
        filename, data = await read_file_field(request, services.settings.max_upload_bytes)
    except IngestError as exc:
        if exc.code != "too_large":
            raise
        # The rest of the body stays unread: closing the connection stops the sender,
        # where keep-alive would read (and drop) all of it.
        error = {"error": {"code": exc.code, "message": exc.message}}
        return JSONResponse(error, 413, headers={"Connection": "close"})
    filename = check_filename(filename or "upload.txt")
    check_article(data, filename)
    job = await services.jobs.submit(data, filename)  # kept as pending, then queued
    location = f"/api/articles/jobs/{job['job']}"
    return JSONResponse(job | {"lesson": None}, 202, headers={"Location": location})


@router.get("/api/articles/jobs/{job_id}")
async def article_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    """An upload's job: its state, progress and, once ready, the article and the state of
    its lesson (null while there is none: not planned yet, or lessons not built here)."""
    job = services.jobs.get(job_id)
    return job | {"lesson": lesson_state(services, job["article"])}


def lesson_state(services: Services, article: dict[str, Any] | None) -> str | None:
    """The article's own lesson: "queued", "building", "ready" or "failed"."""
    if article is None or services.lessons is None:
        return None
    for lesson in services.lessons.summaries():
        if lesson["id"] == article["id"]:
            return lesson["state"]
    return None


@router.delete("/api/articles/{article_id}", status_code=204)
async def delete_article(article_id: str, services: ServicesDep) -> None:
    """Answered at once, whatever the library's thread is doing: the article leaves the
    database and the answers now, its lesson's build stops, and the index is rebuilt
    without it behind (server/storage/library.py `remove_now`)."""
    await asyncio.to_thread(services.library.remove_now, row_id(article_id, "article"))


class AskRequest(BaseModel):
    question: PlainText = Field(min_length=1, max_length=2000)
    session_id: str | None = Field(None, max_length=64, pattern=SESSION_ID)
    session_secret: str | None = Field(None, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    # server/teach: the learner's secret comes in the X-Learner-Secret header.
    learner_id: str | None = Field(None, pattern=LEARNER_ID)
    explain: bool = False  # the reply carries the answer's trace (server/reason/answer/trace.py)


@router.post("/api/ask")
async def ask(body: AskRequest, services: ServicesDep, request: Request) -> dict[str, Any]:
    """One question. To continue a session, send the `session_id` and `session_secret` an
    earlier reply gave; without the secret a new session starts (`resumed: false`).
    A `learner_id` needs that learner's secret (`X-Learner-Secret`); 404 otherwise.
    With `"explain": true` the reply has a `trace`: why it was answered or declined
    (null for a command, "say that again")."""
    services.access.allow_question(client_key(request))
    check_learner(services, body.learner_id, request)
    grant = services.store.open_session(body.session_id, body.session_secret, body.learner_id)
    session_id = grant.id
    result: Answer | None = None
    async for item in services.turns.run(
        session_id, body.question, channel="http", learner_id=body.learner_id
    ):
        if isinstance(item, Answer):
            result = item
    if result is None:  # pragma: no cover - the runner always ends with an Answer
        raise TutorError("no answer was produced")
    reply: dict[str, Any] = {
        "answer": result.text,
        "grounded": result.grounded,
        "sources": [s.to_dict() for s in result.sources],
        "suggestions": result.suggestions,
        "session_id": session_id,
        "session_secret": grant.secret,
        "resumed": grant.resumed,
        "notice": resume_notice(body.session_id, grant.resumed),
        "timings": result.timings,
    }
    if body.explain:
        reply["trace"] = result.trace.to_dict() if result.trace is not None else None
    return reply


@router.get("/api/sessions/{session_id}")
async def session_transcript(
    session_id: str, services: ServicesDep, request: Request
) -> JSONResponse:
    """A session's turns and quiz answers, for the holder of its secret (`X-Session-Secret`)
    or of its learner's (`X-Learner-Secret`); an unknown session and a wrong or missing
    secret are the same 404."""
    if not re.fullmatch(SESSION_ID, session_id) or not services.store.session_readable(
        session_id,
        request.headers.get(SESSION_SECRET_HEADER),
        request.headers.get(LEARNER_SECRET_HEADER),
    ):
        raise NotFound(f"no session {shown(session_id)}")
    body = {
        "session_id": session_id,
        "turns": services.store.turns(session_id),
        "quiz": scores(services.store, session_id),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
