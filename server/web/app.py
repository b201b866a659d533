"""FastAPI app: the lifespan loads every model once and builds the services; routes stay
thin and live in api.py (HTTP) and conversation.py (websockets). Serves client/ at `/`.

`serve_options()` is how uvicorn serves it, in one place for the CLI, the benchmarks and
the tests: anything a client can cause at the transport gets the same typed errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.trustedhost import TrustedHostMiddleware
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import CloseCode, Frame, Opcode

from server.core import protocol as p
from server.core.config import Settings
from server.core.errors import IngestError, NotFound, TutorError, shown
from server.core.metrics import ERRORS
from server.engines import Engines
from server.session import conversation
from server.session.access import TICKET_TTL_S, AccessDenied, redact_server_logs
from server.session.admission import Admission
from server.session.services import open_services
from server.web import api
from server.web import learners as learners_api
from server.web import lessons as lessons_api

log = logging.getLogger(__name__)
CLIENT_DIR = Path(__file__).resolve().parents[2] / "client"
JOBS_SETTLE_S = 30  # at shutdown, how long uploads being added may take to finish
SPEECH_CHECK_S = 5  # how often the library is looked at for openings to prepare
STATUS = {
    "bad_request": 400,
    "not_found": 404,
    "too_large": 413,
    "unsupported_type": 415,
    "rate_limited": 429,
}


def create_app(
    settings: Settings | None = None,
    engines: Engines | None = None,
    *,
    index_in_background: bool | None = None,
) -> FastAPI:
    """Build the app. Tests may pass engines (real ones, or fakes of our interfaces).

    `index_in_background`: serve learners first (`/livez` answers at once) and load the
    index behind them, questions asked meanwhile waiting for it (services.load_index);
    else the index is built before the app serves. Default: in the background when the
    app opens its own engines (`tutor serve`), before serving when a test passes them."""
    settings = settings or Settings()
    background = engines is None if index_in_background is None else index_in_background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start = time.perf_counter()
        # However it is served, uvicorn's request lines never show a token, ticket or
        # signature (they log each path with its query string).
        redact_server_logs()
        if engines is None:
            settings.check()  # a bad setting fails here with one line, before any model
        services = await asyncio.to_thread(open_services, settings, engines, load_index=False)
        services.jobs.announce()  # uploads pending at the restart: known, as pending
        loader = None
        if background:
            loader = asyncio.create_task(load_index(services), name="load-index")
        else:
            await load_index(services)
        # A process that opened its own models warms them behind the first learners.
        warming = asyncio.create_task(warm(services, loader)) if engines is None else None
        preparing = (
            asyncio.create_task(keep_speech_prepared(services, warming), name="prepare-speech")
            if warming is not None
            else None
        )
        lessons = services.open_lessons()
        if settings.build_lessons:
            lessons.start()
        services.ready_seconds = time.perf_counter() - start
        app.state.services = services
        app.state.admission = Admission(settings)  # who may open a socket, and counts
        log.info(
            "tutor ready in %.2f s: %d articles, %s, http://%s:%d",
            services.ready_seconds,
            services.store.article_count(),
            "the index loading" if background else f"{len(services.index.passages)} passages",
            settings.host,
            settings.port,
        )
        if settings.host in ("0.0.0.0", "::") and not settings.allowed_hosts:
            log.warning(
                "listening on every interface, but answering only to %s: set "
                "TUTOR_ALLOWED_HOSTS to the names (or addresses) learners use",
                ", ".join(settings.hosts),
            )
        follower = (
            asyncio.create_task(follow_library(services), name="follow-library")
            if settings.library_poll_s > 0
            else None
        )
        try:
            yield
        finally:
            await lessons.stop()
            if preparing is not None:
                preparing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await preparing
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            if warming is not None:  # (on a thread: it cannot be cut short either)
                await asyncio.wait({warming}, timeout=JOBS_SETTLE_S)
            if loader is not None:  # (in the library's thread: it cannot be cut short)
                await asyncio.wait({loader}, timeout=JOBS_SETTLE_S)
            await services.jobs.settle(JOBS_SETTLE_S)
            # And the library's own queue (a rebuild after a DELETE), before the store closes.
            drained = asyncio.ensure_future(services.library.apply(lambda: None))
            await asyncio.wait({drained}, timeout=JOBS_SETTLE_S)
            services.close()

    app = FastAPI(title="Voice tutor", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        if p.CONTROL.search(request.url.path) or any(
            p.CONTROL.search(value) for value in request.query_params.values()
        ):
            # An id or a name in the path with a NUL (or another control character)
            # never reaches a route, nor the database.
            message = "the path or query holds control characters"
            return JSONResponse({"error": {"code": "bad_request", "message": message}}, 400)
        services = getattr(request.app.state, "services", None)
        if services is not None:
            try:
                services.access.check(request, request.method)
            except AccessDenied as exc:
                status = 401 if exc.code == "unauthorized" else 403
                return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status)
        return await call_next(request)

    app.add_middleware(HeadAsGet)
    # Outermost (added last), before any route or the token check: a page on a name we
    # don't serve, as after DNS rebinding, gets 400 (HTTP and websockets).
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.hosts, www_redirect=False)

    app.include_router(api.router)
    app.include_router(lessons_api.router)
    app.include_router(learners_api.router)

    @app.websocket("/ws/voice")
    async def ws_voice(ws: WebSocket) -> None:
        await conversation.serve(ws, ws.app.state.services, listen=True)

    @app.websocket("/ws/chat")
    async def ws_chat(ws: WebSocket) -> None:
        await conversation.serve(ws, ws.app.state.services, listen=False)

    @app.post("/api/ticket")
    async def ticket(request: Request) -> JSONResponse:
        """A single-use ticket for one websocket (`/ws/voice?ticket=...`), for browsers,
        which cannot set a socket's headers: the token itself stays out of URLs."""
        access = request.app.state.services.access
        return JSONResponse(
            {"ticket": access.issue_ticket(), "expires_in": TICKET_TTL_S},
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(CLIENT_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=CLIENT_DIR), name="client")
    return app


async def warm(services: Any, loader: asyncio.Task | None) -> None:
    """The models, then (the index in) the follow-up questions, each once, behind the
    first learners (`Services.warm_up`, `Services.warm_suggestions`)."""
    await asyncio.to_thread(services.warm_up)
    if loader is not None:
        await asyncio.wait({loader})
    await asyncio.to_thread(services.warm_suggestions)


async def keep_speech_prepared(services: Any, warming: asyncio.Task) -> None:
    """Once the models are warm, the first words of the articles' answers, said while
    no learner speaks (`Services.prepare_speech`); again after the library changes."""
    await asyncio.wait({warming})
    seen = None
    while True:
        fingerprint = services.index.fingerprint
        if fingerprint != seen:
            seen = fingerprint
            try:
                await services.prepare_speech()
            except Exception:  # noqa: BLE001 - replies are then synthesised as they come
                log.exception("preparing the first words of replies failed")
                services.speech_prepared.set()
        await asyncio.sleep(SPEECH_CHECK_S)


async def load_index(services: Any) -> None:
    """Load (or rebuild) the index behind the learners, in the library's thread, then add
    again the uploads a crash left pending (server/storage/jobs.py)."""
    try:
        recovered = await services.library.apply(services.load_index)
    except Exception:  # noqa: BLE001 - questions are answered (declined) rather than held
        log.exception("building the index failed; the next library change rebuilds it")
        services.index_ready.set()
        return
    services.jobs.resume(recovered)


async def follow_library(services: Any) -> None:
    """Every TUTOR_LIBRARY_POLL_S seconds: has another host sharing the database added or
    removed an article? Then rebuild (in the library's thread, after any change of ours).
    A database that cannot be read now is tried again next time."""
    library = services.library
    while True:
        await asyncio.sleep(services.settings.library_poll_s)
        try:
            await library.apply(library.sync)
        except Exception:  # noqa: BLE001 - the next poll tries again
            log.exception("checking the library for changes made elsewhere failed")


def install_error_handlers(app: FastAPI) -> None:
    """Every error a client can cause is JSON: {"error": {"code", "message"}}."""

    @app.exception_handler(TutorError)
    async def tutor_error(_: Request, exc: TutorError) -> JSONResponse:
        if exc.code in STATUS:
            status = STATUS[exc.code]
        elif isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, IngestError) or exc.code in ("empty_question", "bad_message"):
            status = 400
        else:
            status = 500
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """A request that does not fit its route's model: 422 `bad_request`; text with a
        control character in it (protocol.PlainText): 400 `bad_request`. The message
        names the field, never more than 64 characters of what was sent."""
        errors = exc.errors()
        refused = [e for e in errors if e["type"] == p.CONTROL_ERROR]
        first = (refused or errors)[0]
        where = shown(".".join(str(part) for part in first["loc"][1:]) or "body")
        return JSONResponse(
            {"error": {"code": "bad_request", "message": f"{where}: {first['msg']}"}},
            400 if refused else 422,
        )

    @app.exception_handler(Exception)
    async def failed(_: Request, exc: Exception) -> JSONResponse:
        """A bug is still a typed error to the client (Starlette raises it on, and the
        server logs it in full)."""
        message = "something went wrong handling that request"
        return JSONResponse({"error": {"code": "internal", "message": message}}, 500)


def serve_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """uvicorn's options (for `uvicorn.run` or `uvicorn.Config`) for serving this app.
    (The app's lifespan keeps secrets out of uvicorn's logs, whatever the log config.)"""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # Messages between our limit and the transport's ceiling reach the conversation,
        # which answers `error too_large` and goes on; past the ceiling the transport
        # refuses them unread (see TooLargeFirst).
        "ws": too_large_first(settings.max_message_bytes),
        "ws_max_size": 4 * settings.max_message_bytes,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so any local
        # client could pick its own address (and so its rate limit): only from the
        # configured proxies.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        # On shutdown, open sockets are closed and running turns cancelled (committed
        # turns are already on disk); don't wait on a slow client for long.
        "timeout_graceful_shutdown": 5,
    }
    return options | overrides


class HeadAsGet:
    """HEAD is answered wherever GET is (FastAPI's routes answer GET only, and signed
    audio URLs are checked with HEAD by some players): the request runs as a GET and
    only its status and headers (Content-Length included) go out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class TooLargeFirst(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol, except that a message past the transport's ceiling
    (`ws_max_size`), which it refuses from the frame header without reading it, gets our
    `error too_large` just before the 1009 close instead of a bare close."""

    limit = 0  # our own message limit, for the message

    def handle_parser_exception(self) -> None:
        close = self.conn.close_sent
        if self.handshake_complete and close is not None:
            if close.code == CloseCode.MESSAGE_TOO_BIG and not self.close_sent:
                ERRORS.labels(code="too_large").inc()
                error = p.Error(
                    code="too_large",
                    message=f"that message is over the {self.limit}-byte limit; closing",
                )
                frame = Frame(Opcode.TEXT, error.json_text().encode())
                # The close frame is still queued in self.conn: this goes out before it.
                self.transport.write(frame.serialize(mask=False, extensions=self.conn.extensions))
        super().handle_parser_exception()


def too_large_first(limit: int) -> type[TooLargeFirst]:
    return type("TooLargeFirst", (TooLargeFirst,), {"limit": limit})
