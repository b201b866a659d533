"""The process-wide services a request may use, built once in the app's lifespan."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from server.access import Access
from server.config import Settings
from server.engines import Engines
from server.library import Library
from server.reason.lookup import Index
from server.reason.respond import Answerer
from server.store import Store
from server.turns import TurnRunner


@dataclass
class Services:
    settings: Settings
    store: Store
    library: Library
    engines: Engines
    index: Index
    answerer: Answerer
    turns: TurnRunner
    access: Access = field(init=False)
    lessons: Any = None  # server.lessons.Lessons, once built
    turn_model: Any = None  # server.listen.turn.SmartTurn, with TUTOR_TURN_DETECTOR=smart
    started_at: float = field(default_factory=time.time)
    ready_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.access = Access(self.settings)

    def lesson_article(self, lesson_id: int, segment: int = 0) -> int | None:
        """The article a lesson (at this segment) teaches: retrieval prefers it while the
        lesson plays."""
        if self.lessons is None:
            return None
        return self.lessons.article_for(lesson_id, segment)


def build_services(settings: Settings, engines: Engines) -> Services:
    store = Store(settings.db_path)
    library = Library(store)
    index = build_index(settings, library)
    answerer = Answerer(
        index,
        engines.llm,
        k=settings.retrieval_k,
        threshold=settings.answer_threshold,
        max_tokens=settings.max_answer_tokens,
    )
    turns = TurnRunner(store, answerer, settings.history_turns)
    services = Services(settings, store, library, engines, index, answerer, turns)
    if settings.turn_detector == "smart":
        from server import catalog
        from server.listen.turn import SmartTurn

        path = catalog.resolve("turn", settings.turn_model, settings.cache_dir)
        services.turn_model = SmartTurn(path)
    return services


def build_index(
    settings: Settings, library: Library, embed_path: Path | None = None, progress: Any = None
) -> Index:
    """The retrieval index over the library, kept in step with it, with the sentence
    embedding model (every place that answers questions builds its index here)."""
    from server import catalog
    from server.reason.embed import Embedder

    path = embed_path or catalog.resolve("embed", settings.embed_model, settings.cache_dir)
    index = Index(settings.data_dir / "index", Embedder(path, settings.embed_model))
    library.on_change(lambda: index.rebuild(library.store.articles()))
    library.seed(settings.corpus_dir)
    index.rebuild(library.store.articles(), progress)
    return index


def get_services(conn: HTTPConnection) -> Services:
    return conn.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
__all__ = ["Services", "ServicesDep", "build_index", "build_services", "get_services"]
