"""A remote engine's failures (an LLM, speech-to-text or speech server): each becomes an
EngineError with the engine's code, and the last one is shown by /healthz until a call
works again. One place for what the OpenAI-compatible and Wyoming engines keep alike."""

from __future__ import annotations

import logging
import threading
from typing import Any

from server.core.errors import EngineError
from server.core.metrics import ENGINE_ERRORS

log = logging.getLogger(__name__)


class Failures:
    """`what`: how errors name the server ("LLM server http://..."). `counted`: count and
    log each here; False where the caller does (FailSoft, for the LLM's answers)."""

    def __init__(self, engine: str, what: str, counted: bool = True) -> None:
        self.engine, self.what, self.counted = engine, what, counted
        self.last: EngineError | None = None
        self._lock = threading.Lock()  # the worker's threads fail and succeed at once

    def error(self, code: str, detail: object) -> EngineError:
        error = EngineError(f"{self.what}: {detail}", code=code)
        if self.counted:
            ENGINE_ERRORS.labels(engine=self.engine, code=code).inc()
            log.warning("%s", error)
        with self._lock:
            self.last = error
        return error

    def cleared(self) -> None:
        with self._lock:
            self.last = None

    def report(self, state: dict[str, Any]) -> dict[str, Any]:
        """/healthz's `state` of the server, with the last failure's code if there is one."""
        with self._lock:
            if self.last is not None:
                state["last_error"] = self.last.code
        return state
