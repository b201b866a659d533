"""The three engines a tutor process uses, each behind its worker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from server.engines.interfaces import Responder, Synthesizer, Transcriber
from server.engines.worker import ModelWorker

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotOpened:
    """A role a command did not open (`tutor ask` needs no voice): any use is a bug, and
    says which engine was missing instead of failing somewhere inside the pipeline."""

    kind = "not opened"
    parallel = 1
    sample_rate = 0

    def __init__(self, role: str) -> None:
        self.name = f"{role} (not opened)"
        self.role = role

    def _missing(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"the {self.role} engine was not opened for this command")

    transcribe = stream = synthesize = _missing


@dataclass
class Engines:
    transcriber: Transcriber
    responder: Responder
    synthesizer: Synthesizer
    load_seconds: dict[str, float] = field(default_factory=dict)
    stt: ModelWorker = field(init=False)
    llm: ModelWorker = field(init=False)
    tts: ModelWorker = field(init=False)

    def __post_init__(self) -> None:
        # An engine that serves several calls at once (a remote server) says so.
        self.stt = ModelWorker(self.transcriber, "stt", getattr(self.transcriber, "parallel", 1))
        self.llm = ModelWorker(self.responder, "llm", getattr(self.responder, "parallel", 1))
        self.tts = ModelWorker(self.synthesizer, "tts", getattr(self.synthesizer, "parallel", 1))

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each engine's name, kind, address and load time; a remote one is probed (a
        blocking call: /healthz runs this off the event loop)."""
        out: dict[str, dict[str, Any]] = {}
        for role, engine in (
            ("stt", self.transcriber),
            ("llm", self.responder),
            ("tts", self.synthesizer),
        ):
            if isinstance(engine, NotOpened):
                continue
            info: dict[str, Any] = {
                "name": engine.name,
                "kind": getattr(engine, "kind", "in-process"),
                "address": getattr(engine, "address", None),
                "load_seconds": round(self.load_seconds.get(role, 0), 3),
            }
            describe = getattr(engine, "describe", None)
            if callable(describe):
                info.update(describe())
            out[role] = info
        return out

    def close(self) -> None:
        for worker in (self.stt, self.llm, self.tts):
            worker.close()
            close = getattr(worker.engine, "close", None)
            if callable(close):
                close()


def timed(timings: dict[str, float], role: str, make: Callable[[], T]) -> T:
    """Make one engine, noting how long it took (for /healthz)."""
    start = time.perf_counter()
    engine = make()
    timings[role] = time.perf_counter() - start
    log.info("opened the %s engine in %.2f s", role, timings[role])
    return engine


def load_engines(
    stt_path: Path,
    stt_name: str,
    llm_path: Path,
    llm_name: str,
    tts_path: Path,
    tts_name: str,
    threads: int,
    context: int,
) -> Engines:
    """Load the three in-process models once (each timed for /healthz). The tutor itself
    opens its engines from its settings (`server.session.services.open_engines`)."""
    from server.engines.llama import LlamaResponder
    from server.engines.piper import PiperSynthesizer
    from server.engines.whisper import WhisperTranscriber

    timings: dict[str, float] = {}
    engines = Engines(
        transcriber=timed(timings, "stt", lambda: WhisperTranscriber(stt_path, stt_name, threads)),
        responder=timed(
            timings, "llm", lambda: LlamaResponder(llm_path, llm_name, threads, context)
        ),
        synthesizer=timed(timings, "tts", lambda: PiperSynthesizer(tts_path, tts_name, threads)),
    )
    engines.load_seconds = timings
    return engines
