"""The composition root: what a tutor process is made of, built in one place.

`open_services(settings)` opens the store and library, builds the retrieval index, opens
the engines the settings name (in-process models by default, an OpenAI-compatible server
with TUTOR_LLM_URL, Wyoming speech servers with TUTOR_STT_URL / TUTOR_TTS_URL) and wires
the Answerer and the turn runner over them. The server's lifespan, the CLI (`ask`,
`eval`), `lessons build` and the benchmarks all call it, each naming the engines it needs
(`roles`), so a new backend or store lands here once.

The server opens its services with `load_index=False`: learners are served (and `/livez`
answers) while `load_index` builds the index in the library's thread; a question asked
meanwhile waits for it (the turn runner, up to turns.INDEX_WAIT_S)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from server.core.config import Settings
from server.engines import Engines, FailSoft
from server.engines.loaded import NotOpened, timed
from server.lessons import Lessons
from server.reason.answer.rank import Ranker
from server.reason.answer.respond import Answerer
from server.reason.index.lookup import Hit, Index
from server.reason.index.passages import Passage
from server.reason.query.question import Question
from server.reason.suggest.suggest import with_suggestions
from server.session.access import Access
from server.session.turns import TurnRunner
from server.speak.cache import SpeechCache, prepare
from server.storage.jobs import Recovered, UploadJobs
from server.storage.library import Library
from server.storage.store import Store

if TYPE_CHECKING:  # loaded only where they are used (a CLI command may need none)
    import numpy as np

    from server.engines.interfaces import Responder, Synthesizer, Transcriber
    from server.listen.end_of_turn import SmartTurn
    from server.listen.transcribe import Listener
    from server.reason.answer.judge import Judge
    from server.reason.index.embed import Embedder

log = logging.getLogger(__name__)
ROLES = ("stt", "llm", "tts")
STT_WARM_SAMPLES = 16_000  # a second of faint noise
# As long as a reply's first sentence: onnxruntime grows its buffers to the longest input
# seen, and a first head longer than the warm-up's took 0.25 s instead of 0.1 s.
WARM_SPEECH = (
    "Hello. The tutor answers questions about the articles in its library, and it "
    "reads each answer aloud as soon as the first few words of it are ready."
)


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
    jobs: UploadJobs = field(init=False)  # uploads being added in the background
    lessons: Lessons | None = None  # where lessons are served: `open_lessons`
    turn_model: SmartTurn | None = None  # with TUTOR_TURN_DETECTOR=smart
    started_at: float = field(default_factory=time.time)
    ready_seconds: float = 0.0
    owns_engines: bool = False  # opened here (closed here), or passed in by a test
    index_ready: threading.Event = field(default_factory=threading.Event)
    warmed: threading.Event = field(default_factory=threading.Event)  # models and suggestions
    speech_cache: SpeechCache = field(init=False)  # the first words of likely replies
    speech_prepared: threading.Event = field(default_factory=threading.Event)
    listeners: weakref.WeakSet[Listener] = field(default_factory=weakref.WeakSet)

    def __post_init__(self) -> None:
        self.access = Access(self.settings, store=self.store)
        self.speech_cache = SpeechCache(self.settings.speech_cache_mb * 1_000_000)
        # Uploads wait in <data>/uploads until they are in the library and its index.
        self.jobs = UploadJobs(self.library, self.settings.data_dir / "uploads")
        self.turns.index_ready = self.index_ready

    def load_index(self) -> list[Recovered]:
        """Build the index from the library (in the library's thread, after taking out
        what a crash left half-added), and mark it ready; the uploads to add again
        (`jobs.resume`, once the index answers)."""
        try:
            recovered = self.jobs.recover()
        except Exception:  # noqa: BLE001 - the index matters more; the uploads stay pending
            log.exception("reading the pending uploads failed; they wait for the next start")
            recovered = []
        self.library.mark_seen()
        self.index.rebuild(self.store.articles())
        self.index_ready.set()
        try:  # the first question's retrieval is then as quick as the next (48 -> 10 ms)
            self.answerer.decide("What is this article about?", [])
        except Exception as exc:  # noqa: BLE001 - a warm-up never stops the server
            log.info("warming retrieval failed: %s", exc)
        log.info(
            "index ready: %d articles, %d passages",
            self.store.article_count(),
            len(self.index.passages),
        )
        return recovered

    def warm_up(self) -> None:
        """Run each model once, so the first learner does not pay for first calls: the
        first answer of a fresh process took 0.8 s longer than the next (llama.cpp pages
        its weights in and sizes its buffers; onnxruntime and CTranslate2 set up their
        kernels and arenas on a first run). Each call waits in its model's queue behind
        any learner's, and one that fails is only logged.
        Blocking: the server runs it on a thread once serving."""
        import numpy as np

        from server.engines import BACKGROUND

        start = time.perf_counter()
        engines = self.engines
        rng = np.random.default_rng(0)
        noise = (0.003 * rng.standard_normal(STT_WARM_SAMPLES)).astype(np.float32)
        calls: list[tuple[str, Any, Callable[[], object]]] = [
            ("stt", engines.stt, lambda: engines.transcriber.transcribe(noise, "Hello.")),
            ("tts", engines.tts, lambda: b"".join(engines.synthesizer.synthesize(WARM_SPEECH))),
            (
                "llm",
                engines.llm,
                lambda: "".join(
                    engines.responder.stream(
                        [{"role": "user", "content": "Hello."}], 2, threading.Event()
                    )
                ),
            ),
        ]
        for role, worker, call in calls:
            # Only the models this process loaded: a speech or LLM server is warm already
            # and is shared by every host, which would each send it a warm-up at start.
            if getattr(worker.engine, "kind", None) != "in-process":
                continue
            try:
                worker.submit(call, priority=BACKGROUND).result()
            except Exception as exc:  # noqa: BLE001 - a warm-up never stops the server
                log.info("warming the %s model failed: %s", role, exc)
        if self.turn_model is not None:
            self.turn_model.probability(noise)
        log.info("models warmed in %.2f s", time.perf_counter() - start)

    def warm_suggestions(self) -> None:
        """Check every paragraph's follow-up questions once the index is in (0.75 s for
        the two bundled articles): a reply's suggestions were checked while its first
        audio was being synthesised, on the same two cores (0.1-0.5 s of checks on the
        bench's first turns of each paragraph). Blocking; sets `warmed`."""
        start = time.perf_counter()
        suggester = self.answerer.suggester
        try:
            if suggester is not None:
                suggester.all()
        except Exception as exc:  # noqa: BLE001 - a warm-up never stops the server
            log.info("checking the follow-up questions failed: %s", exc)
        self.warmed.set()
        log.info("follow-up questions checked in %.2f s", time.perf_counter() - start)

    def someone_speaking(self) -> bool:
        """A learner is talking to a listener of this process right now."""
        return any(listener.speaking for listener in list(self.listeners))

    async def prepare_speech(self) -> int:
        """Synthesise the first words of the answers the articles allow, while no learner
        speaks (server/speak/cache.py); sets `speech_prepared`. Only with this process's
        own voice: a voice server is shared by every host."""
        tts = self.engines.tts
        made = 0
        if self.speech_cache.limit_bytes and getattr(tts.engine, "kind", None) == "in-process":
            made = await prepare(
                self.speech_cache, tts, self.answerer.openings(), self.someone_speaking
            )
        self.speech_prepared.set()
        return made

    def lesson_article(self, lesson_id: int, segment: int = 0) -> int | None:
        """The article a lesson (at this segment) teaches: retrieval prefers it while the
        lesson plays."""
        if self.lessons is None:
            return None
        return self.lessons.article_for(lesson_id, segment)

    def open_lessons(self) -> Lessons:
        """Lessons for a running server: polite to learners (they wait while a learner's
        turn runs), rebuilt on library changes. Called once, by the app's lifespan."""
        engines = self.engines
        lessons = Lessons(
            self.store,
            self.settings.cache_dir,
            tts=engines.tts,
            llm=engines.llm,
            voice=engines.synthesizer.name,
            watch=[engines.stt, engines.llm, engines.tts],
            narration_dir=self.settings.narration_path,
            budget_s=self.settings.lesson_budget_s,
        )
        self.lessons = lessons
        self.library.on_change(lessons.changed)
        self.library.on_removal(lessons.changed)  # a DELETE stops its lesson's build at once
        lessons.prune()  # the library may have changed while the server was down
        return lessons

    def close(self) -> None:
        if self.owns_engines:
            self.engines.close()
        judge = getattr(self.answerer, "judge", None)  # the LLM reader's worker and model
        if judge is not None:
            judge.close()
        self.store.close()


def open_services(
    settings: Settings,
    engines: Engines | None = None,
    *,
    roles: Iterable[str] = ROLES,
    load_index: bool = True,
) -> Services:
    """Everything a tutor process uses. `engines`: already loaded ones (tests load the
    models once per run); otherwise the engines for `roles` are opened from the settings
    and the rest are left out (`NotOpened`: a command that answers text needs no voice).
    `load_index=False`: the index is left empty, for `Services.load_index` to build."""
    store = Store(settings.database)
    library = Library(store)
    index = build_index(settings, library, load=load_index)
    owned = engines is None
    wanted = set(ROLES if engines is not None else roles)
    if settings.reader == "llm":
        from server.engines.reader import prefer_passive_threads

        prefer_passive_threads()  # before llama.cpp is first loaded, by any engine
    if engines is None:
        engines = open_engines(settings, wanted)
    # The Answerer has its own fallback for an LLM that cannot answer (the extractive
    # answer); FailSoft hands it an unreachable server's failure as an empty answer.
    llm = FailSoft(engines.llm) if "llm" in wanted else None
    answerer = Answerer(
        index,
        llm,  # type: ignore[arg-type]  # the worker's interface, failing soft
        k=settings.retrieval_k,
        threshold=settings.answer_threshold,
        max_tokens=settings.max_answer_tokens,
        judge=open_judge(settings) if settings.reader == "llm" else None,
        ranker=Ranker.load() if settings.reader == "ranked" else None,
    )
    with_suggestions(answerer)
    turns = TurnRunner(store, answerer, settings.history_turns, settings.index_wait_s)
    services = Services(
        settings, store, library, engines, index, answerer, turns, owns_engines=owned
    )
    if load_index:
        services.index_ready.set()
    if settings.turn_detector == "smart" and "stt" in wanted:
        from server.core import catalog
        from server.listen.end_of_turn import SmartTurn

        path = catalog.resolve("turn", settings.turn_model, settings.cache_dir)
        services.turn_model = SmartTurn(path)
    return services


def open_engines(settings: Settings, roles: Iterable[str] = ROLES) -> Engines:
    """The engines for `roles`, chosen by the settings (each timed for /healthz); a role
    not asked for is `NotOpened`."""
    wanted = set(roles)
    timings: dict[str, float] = {}
    made: dict[str, Any] = {}
    for role in ROLES:
        if role in wanted:
            made[role] = timed(timings, role, lambda r=role: open_engine(r, settings))
        else:
            made[role] = NotOpened(role)
    engines = Engines(made["stt"], made["llm"], made["tts"])
    engines.load_seconds = timings
    return engines


def open_engine(role: str, settings: Settings) -> Transcriber | Responder | Synthesizer:
    """One role's engine: the one place that decides which backend serves it."""
    from server.core import catalog

    if role == "llm" and settings.llm_url:
        from server.engines.openai import OpenAIResponder

        return OpenAIResponder(
            settings.llm_url,
            settings.llm_model,
            settings.llm_timeout_s,
            settings.llm_parallel,
            api_key=settings.llm_api_key,
        )
    if role == "llm":
        from server.engines.llama import LlamaResponder

        path = catalog.resolve("llm", settings.llm_model, settings.cache_dir)
        return LlamaResponder(path, settings.llm_model, settings.threads, settings.llm_context)
    if role == "stt" and settings.stt_url:
        from server.engines.wyoming_stt import WyomingTranscriber

        return WyomingTranscriber(
            settings.stt_url, settings.stt_model, settings.stt_timeout_s, settings.stt_parallel
        )
    if role == "stt":
        from server.engines.whisper import WhisperTranscriber

        path = catalog.resolve("stt", settings.stt_model, settings.cache_dir)
        return WhisperTranscriber(path, settings.stt_model, settings.threads)
    if role == "tts" and settings.tts_url:
        from server.engines.wyoming_tts import WyomingSynthesizer

        return WyomingSynthesizer(
            settings.tts_url, settings.tts_voice, settings.tts_timeout_s, settings.tts_parallel
        )
    if role == "tts":
        from server.engines.piper import PiperSynthesizer

        path = catalog.resolve("tts", settings.tts_voice, settings.cache_dir)
        return PiperSynthesizer(path, settings.tts_voice, settings.threads)
    raise ValueError(f"no such engine role: {role}")


def open_judge(settings: Settings) -> Judge:
    """The LLM reader (TUTOR_READER=llm) on its own worker: the server at TUTOR_LLM_URL
    when there is one (it must return logprobs), else the reader model in-process."""
    from server.engines.reader import LlamaReader, OpenAIReader
    from server.reason.answer.judge import Judge

    if settings.llm_url:
        engine: Any = OpenAIReader(
            settings.llm_url,
            settings.llm_model,
            settings.llm_timeout_s,
            settings.llm_parallel,
            api_key=settings.llm_api_key,
        )
    else:
        path = settings.reader_path()
        assert path is not None
        engine = LlamaReader(path, settings.reader_model, settings.threads)
    return Judge(engine, threshold=settings.reader_threshold)


class LibraryIndex(Index):
    """The retrieval index of a library: it never answers from an article removed from
    the library, also before the rebuild without it is swapped in (`Library.gone`)."""

    def __init__(self, folder: Path | None, embedder: Embedder | None, library: Library) -> None:
        super().__init__(folder, embedder)
        self.library = library

    @property
    def passages(self) -> list[Passage]:
        """Every passage, less those of articles removed since the last rebuild (what
        reads all of them: "what is X?" definitions, suggestions, the articles' names)."""
        passages = super().passages
        gone = self.library.gone()
        return [p for p in passages if p.article_id not in gone] if gone else passages

    def search(
        self,
        question: Question | str,
        k: int = 4,
        prefer_article: int | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        gone = self.library.gone()
        if not gone:
            return super().search(question, k, prefer_article, vector)
        every = super().search(question, len(super().passages), prefer_article, vector)
        return [hit for hit in every if hit.passage.article_id not in gone][:k]


def build_index(
    settings: Settings,
    library: Library,
    embed_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    load: bool = True,
) -> Index:
    """The retrieval index over the library, kept in step with it, with the sentence
    embedding model (every place that answers questions builds its index here).
    `load=False`: the bundled articles are stored if the library is empty, but the index
    is left empty, to be built later (the server does it in the background)."""
    from server.core import catalog
    from server.reason.index.embed import Embedder

    path = embed_path or catalog.resolve("embed", settings.embed_model, settings.cache_dir)
    # The settings' threads: a question is quicker too (3.9 -> 2.9 ms), and an answer that
    # cuts a long sentence to its clauses embeds thirty of them (2 cores: 135 -> 78 ms).
    embedder = Embedder(path, settings.embed_model, settings.threads)
    index = LibraryIndex(settings.data_dir / "index", embedder, library)
    library.on_change(lambda: index.rebuild(library.store.articles()))
    library.seed(settings.corpus_dir, rebuild=load)
    if load:
        library.mark_seen()
        index.rebuild(library.store.articles(), progress)
    return index


def get_services(conn: HTTPConnection) -> Services:
    return conn.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
__all__ = [
    "ROLES",
    "LibraryIndex",
    "Services",
    "ServicesDep",
    "build_index",
    "get_services",
    "open_engine",
    "open_engines",
    "open_judge",
    "open_services",
]
