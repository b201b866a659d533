"""FastAPI app: the lifespan loads every model once; routes stay thin and call the stages.

Serves the browser client from client/ at `/`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from server.config import Settings
from server.engines import Engines, load_engines
from server.errors import IngestError, NotFound, TutorError
from server.library import Library
from server.store import Store

log = logging.getLogger(__name__)
CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"


@dataclass
class Services:
    """Everything a request may need; one per process, built in the lifespan."""

    settings: Settings
    store: Store
    library: Library
    engines: Engines
    started_at: float = field(default_factory=time.time)
    ready_seconds: float = 0.0


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def create_app(settings: Settings | None = None, engines: Engines | None = None) -> FastAPI:
    """Build the app. Tests may pass engines (real or fakes of our own interfaces)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start = time.perf_counter()
        loaded = engines
        if loaded is None:
            paths = settings.check()
            loaded = await asyncio.to_thread(
                load_engines, paths.stt, settings.stt_model, paths.llm, settings.llm_model,
                paths.tts, settings.tts_voice, settings.threads, settings.llm_context,
            )
        store = Store(settings.db_path)
        library = Library(store)
        added = await asyncio.to_thread(library.seed, settings.corpus_dir)
        if added:
            log.info("ingested %d bundled article(s) from %s", added, settings.corpus_dir)
        services = Services(settings=settings, store=store, library=library, engines=loaded)
        services.ready_seconds = time.perf_counter() - start
        app.state.services = services
        log.info("tutor ready in %.2f s on http://%s:%d", services.ready_seconds,
                 settings.host, settings.port)
        try:
            yield
        finally:
            if engines is None:
                loaded.close()
            store.close()

    app = FastAPI(title="Voice tutor", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    add_routes(app)
    if (CLIENT_DIR / "index.html").exists():
        app.mount("/static", StaticFiles(directory=CLIENT_DIR), name="client")
    return app


def install_error_handlers(app: FastAPI) -> None:
    status_for = {NotFound: 404, IngestError: 400}

    @app.exception_handler(TutorError)
    async def tutor_error(_: Request, exc: TutorError) -> JSONResponse:
        status = next((s for cls, s in status_for.items() if isinstance(exc, cls)), 500)
        if exc.code == "too_large":
            status = 413
        elif exc.code == "unsupported_type":
            status = 415
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status)


def add_routes(app: FastAPI) -> None:
    @app.get("/healthz")
    async def healthz(services: ServicesDep) -> dict[str, Any]:
        return {
            "status": "ok",
            "models": services.engines.describe(),
            "articles": services.store.article_count(),
            "ready_seconds": round(services.ready_seconds, 3),
            "uptime_seconds": round(time.time() - services.started_at, 1),
        }

    @app.get("/api/articles")
    async def list_articles(services: ServicesDep) -> list[dict[str, Any]]:
        return [a.summary() for a in services.store.articles()]

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(CLIENT_DIR / "index.html", headers={"Cache-Control": "no-cache"})
