"""Engines behind small interfaces, and the per-model workers that run them.

- Transcriber: 16 kHz float32 mono audio (+ an optional vocabulary prompt) -> text.
- Responder:   chat messages -> a stream of text pieces (llama.cpp, in-process).
- Synthesizer: text -> PCM s16le mono chunks at `sample_rate`.

A remote engine (an OpenAI-compatible server, say) can implement the same protocol
without touching the pipeline. Inference is blocking, so every engine sits behind a
`ModelWorker`: one thread per model instance and a FIFO queue in front of it. That keeps
inference off the event loop, serves sessions in arrival order, and never lets two
threads into one llama.cpp context (it is not thread-safe).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")

# Three models share a few cores. OpenMP's default is to spin idle worker threads for a
# long while, which steals the cores the other models need; never spinning (passive)
# slows llama.cpp's token loop instead. A short spin kept the single-talker latency and
# halved it with four talkers (2 cores: p50 2.4-3.0 s -> 1.6 s; passive: 1.4-1.7 s but
# about 0.1 s slower with one talker). Read by libgomp when llama.cpp and CTranslate2
# start it; a user's own OMP_WAIT_POLICY wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "20000")

STT_RATE = 16_000


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str: ...


class Responder(Protocol):
    name: str

    def stream(
        self, messages: list[dict[str, str]], max_tokens: int, cancel: threading.Event
    ) -> Iterator[str]: ...


class Synthesizer(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        """`length_scale`: the speaking pace, relative to the voice's own (1.5: each sound
        half as long again, so slower; 0.8: faster); see `speaking_pace`."""
        ...


# The speaking pace a learner may choose, as Piper's length_scale relative to the voice's
# own: half to twice as long per sound. Bounded so a bad value cannot make a reply last
# minutes or turn it into a blur.
MIN_LENGTH_SCALE = 0.5
MAX_LENGTH_SCALE = 2.0


def speaking_pace(length_scale: float) -> float:
    """A pace kept within the usable range (a NaN or an infinity means the default)."""
    if not math.isfinite(length_scale):
        return 1.0
    return min(MAX_LENGTH_SCALE, max(MIN_LENGTH_SCALE, length_scale))


# --- in-process implementations -------------------------------------------------------


class WhisperTranscriber:
    """faster-whisper (CTranslate2), int8 on the CPU. Greedy decoding: beam search costs
    ~2x the time for no gain on short questions.

    The encoder sees a window sized to the utterance, not Whisper's 30 s: faster-whisper
    always pads the log-mel features to 3,000 frames (its `chunk_length` shortens only the
    feature extraction), and encoding those was ~90% of a short question's transcription
    time. `_Whisper.encode` cuts the padded features back to `encoder_window` seconds.
    Whisper was trained on 30 s windows, and windows of only the utterance + 1-4 s lost
    words and looped ("expected to launch expected to launch ..."); from 10-12 s on, the
    spoken fixtures' WER was as good as the full window's (12 s: Piper 0.13 vs 0.16,
    espeak-ng 0.55 vs 0.58, with the articles' prompt) at about a third of the time (13
    clips: 15.6 s -> 4.3 s on 2 busy cores); under 12 s the prompt stopped fixing "met as"
    into "Meta's". A token budget for the utterance's length stops any loop early."""

    def __init__(self, path: Path, name: str, threads: int) -> None:
        from faster_whisper import WhisperModel

        class _Whisper(WhisperModel):  # type: ignore[misc]
            window_frames = 3000

            def encode(self, features: np.ndarray) -> Any:
                return super().encode(features[..., : self.window_frames])

        self.name = name
        self.model = _Whisper(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        self.english_only = name.endswith(".en") or not self.model.model.is_multilingual
        self._lock = threading.Lock()  # the window is per call: one call at a time

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        seconds = len(audio) / STT_RATE
        with self._lock:
            self.model.window_frames = 100 * encoder_window(len(audio))
            segments, _info = self.model.transcribe(
                audio.astype(np.float32, copy=False),
                language="en",
                beam_size=1,
                temperature=0.0,
                condition_on_previous_text=False,
                initial_prompt=prompt or None,
                vad_filter=False,  # our own VAD already cut the utterance
                without_timestamps=True,
                # Speech is 2-4 tokens a second; past this the decoder is looping.
                max_new_tokens=int(16 + 8 * seconds),
            )
            # Whisper's own test for a segment with no speech in it (noise, breath): high
            # no-speech probability and low confidence. Such segments are hallucinations.
            kept = [
                s.text.strip()
                for s in segments
                if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)
            ]
        return " ".join(t for t in kept if t).strip()


def encoder_window(samples: int) -> int:
    """The encoder's window in seconds for an utterance: its length and a second, never
    under 12 s (see WhisperTranscriber) nor over Whisper's 30 s."""
    return min(30, max(12, math.ceil(samples / STT_RATE) + 1))


class LlamaResponder:
    """llama.cpp through llama-cpp-python, chat completion with the model's own template."""

    def __init__(self, path: Path, name: str, threads: int, context: int) -> None:
        from llama_cpp import Llama

        self.name = name
        self.llm = Llama(
            model_path=str(path),
            n_ctx=context,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
            seed=0,
        )

    def stream(
        self, messages: list[dict[str, str]], max_tokens: int, cancel: threading.Event
    ) -> Iterator[str]:
        chunks = self.llm.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=1.1,
            stream=True,
        )
        for chunk in chunks:
            if cancel.is_set():
                break  # leaving the generator stops llama.cpp after this token
            piece = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
            if piece:
                yield piece


class PiperSynthesizer:
    """Piper (onnxruntime). One call per sentence keeps the first audio early."""

    def __init__(self, path: Path, name: str, threads: int) -> None:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig

        self.name = name
        self.voice = PiperVoice.load(str(path))
        # PiperVoice.load takes no session options: rebuild its session with our thread
        # count, so TTS doesn't fight the LLM and Whisper for every core.
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.voice.session = onnxruntime.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.sample_rate = int(self.voice.config.sample_rate)
        self._config_type = SynthesisConfig  # imported here: piper loads onnxruntime
        # The voice's trained pace: a learner's pace scales it (some voices ship != 1.0).
        self._own_length_scale = float(self.voice.config.length_scale or 1.0)

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        config = self._config_type(
            normalize_audio=True,
            length_scale=self._own_length_scale * speaking_pace(length_scale),
        )
        for chunk in self.voice.synthesize(text, syn_config=config):
            yield chunk.audio_int16_bytes


# --- workers --------------------------------------------------------------------------


# Queue priorities: what a learner is waiting for right now goes first.
URGENT = 0  # a final transcript, the first audio of a reply
NORMAL = 1  # the rest of a reply, answers
LATER = 2  # partial transcripts
BACKGROUND = 3  # lesson building


class ModelWorker:
    """One thread, one priority queue, one model instance.

    A llama.cpp context is not thread-safe and the models share the cores anyway, so each
    model runs one job at a time; the queue decides which learner's job runs next (FIFO
    within a priority), so one learner's long reply doesn't hold back another's first
    sentence."""

    def __init__(self, engine: Any, label: str) -> None:
        self.engine = engine
        self.label = label
        self.pending = 0
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name=f"model-{label}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job()

    def submit(self, fn: Callable[..., T], *args: Any, priority: int = NORMAL) -> Future[T]:
        future: Future[T] = Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return  # cancelled while queued: skip it
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)

        self._queue.put((priority, next(self._order), job))
        return future

    async def call(self, fn: Callable[..., T], *args: Any, priority: int = NORMAL) -> T:
        self.pending += 1
        try:
            return await asyncio.wrap_future(self.submit(fn, *args, priority=priority))
        finally:
            self.pending -= 1

    async def stream(
        self, make_iter: Callable[[threading.Event], Iterator[T]], priority: int = NORMAL
    ) -> AsyncIterator[T]:
        """Run a blocking generator on the model thread and yield its items here.

        Closing the async iterator (cancellation, a break) sets the cancel event, which the
        generator checks between items, so the model thread is freed promptly."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()

        def produce() -> None:
            try:
                for item in make_iter(cancel):
                    loop.call_soon_threadsafe(items.put_nowait, ("item", item))
                    if cancel.is_set():
                        break
                loop.call_soon_threadsafe(items.put_nowait, ("end", None))
            except BaseException as exc:  # noqa: BLE001 - re-raised on the loop side
                loop.call_soon_threadsafe(items.put_nowait, ("error", exc))

        self.pending += 1
        future = self.submit(produce, priority=priority)
        try:
            while True:
                kind, value = await items.get()
                if kind == "item":
                    yield value
                elif kind == "end":
                    break
                else:
                    raise value
        finally:
            cancel.set()
            self.pending -= 1
            future.cancel()  # still queued: never runs; running: stops at the next item

    def close(self) -> None:
        self._queue.put((-1, -1, None))


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
        self.stt = ModelWorker(self.transcriber, "stt")
        self.llm = ModelWorker(self.responder, "llm")
        self.tts = ModelWorker(self.synthesizer, "tts")

    def describe(self) -> dict[str, dict[str, Any]]:
        return {
            role: {"name": engine.name, "load_seconds": round(self.load_seconds.get(role, 0), 3)}
            for role, engine in (
                ("stt", self.transcriber),
                ("llm", self.responder),
                ("tts", self.synthesizer),
            )
        }

    def close(self) -> None:
        for worker in (self.stt, self.llm, self.tts):
            worker.close()


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
    """Load the three models once (each timed for /healthz)."""
    timings: dict[str, float] = {}

    def timed(role: str, make: Callable[[], T]) -> T:
        start = time.perf_counter()
        engine = make()
        timings[role] = time.perf_counter() - start
        log.info("loaded %s model in %.2f s", role, timings[role])
        return engine

    engines = Engines(
        transcriber=timed("stt", lambda: WhisperTranscriber(stt_path, stt_name, threads)),
        responder=timed("llm", lambda: LlamaResponder(llm_path, llm_name, threads, context)),
        synthesizer=timed("tts", lambda: PiperSynthesizer(tts_path, tts_name, threads)),
    )
    engines.load_seconds = timings
    return engines
