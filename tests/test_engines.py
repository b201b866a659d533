"""The real default models: each loads and does its job."""

import asyncio
import threading
from pathlib import Path

import numpy as np

from server.engines import Engines
from tests.conftest import read_wav


def test_transcribes_a_spoken_question(engines: Engines) -> None:
    samples, rate = read_wav("chief_officer.piper.wav")
    assert rate == 16_000
    audio = samples.astype(np.float32) / 32768
    text = engines.transcriber.transcribe(audio).lower()
    assert "chief" in text and "officer" in text, text
    # With the articles' names as a prompt, "Meta's" is no longer heard as "met as".
    prompted = engines.transcriber.transcribe(audio, prompt="Meta, Llama, Avocado, Alexandr Wang")
    assert "meta" in prompted.lower() and "officer" in prompted.lower(), prompted


def test_llm_generates_tokens(engines: Engines) -> None:
    pieces = list(
        engines.responder.stream(
            [{"role": "user", "content": "Say hello."}], max_tokens=8, cancel=threading.Event()
        )
    )
    assert pieces and "".join(pieces).strip()


def test_llm_stops_when_cancelled(engines: Engines) -> None:
    cancel = threading.Event()
    pieces = []
    for piece in engines.responder.stream(
        [{"role": "user", "content": "Count from one to one hundred."}], 200, cancel
    ):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    assert len(pieces) <= 4


def test_synthesizes_plausible_speech(engines: Engines) -> None:
    text = "Avocado is a frontier language model that Meta is building."
    pcm = b"".join(engines.synthesizer.synthesize(text))
    audio = np.frombuffer(pcm, dtype=np.int16)
    seconds = len(audio) / engines.synthesizer.sample_rate
    # ~10 words: a human says that in 2-6 s; a broken voice gives 0 s or a minute.
    assert 1.5 < seconds < 8, seconds
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms > 500, "not silent"


def test_worker_runs_blocking_calls_off_the_loop(engines: Engines) -> None:
    async def main() -> list[str]:
        tick = asyncio.Event()

        async def ticker() -> None:
            await asyncio.sleep(0)
            tick.set()

        pieces = []
        task = asyncio.create_task(ticker())
        async for piece in engines.llm.stream(
            lambda cancel: engines.responder.stream(
                [{"role": "user", "content": "Say hello."}], 6, cancel
            )
        ):
            pieces.append(piece)
        await task
        assert tick.is_set()
        return pieces

    assert asyncio.run(main())


def test_worker_runs_urgent_jobs_first_and_skips_cancelled_ones() -> None:
    import threading as th

    from server.engines import LATER, NORMAL, URGENT, ModelWorker

    worker = ModelWorker(object(), "test")
    gate, ran = th.Event(), []
    blocker = worker.submit(gate.wait)  # holds the thread while the others queue
    later = worker.submit(ran.append, "partial", priority=LATER)
    normal = worker.submit(ran.append, "sentence", priority=NORMAL)
    dropped = worker.submit(ran.append, "cancelled", priority=URGENT)
    urgent = worker.submit(ran.append, "final", priority=URGENT)
    assert dropped.cancel()
    gate.set()
    for future in (blocker, later, normal, urgent):
        future.result(timeout=10)
    assert ran == ["final", "sentence", "partial"]
    worker.close()


def test_worker_runs_the_calls_queued_with_one_key_in_one_batch() -> None:
    import threading as th

    from server.engines import LATER, URGENT, ModelWorker

    worker = ModelWorker(object(), "test")
    gate, batches = th.Event(), []

    def run(items: list[str]) -> list[str]:
        batches.append(items)
        return [item.upper() for item in items]

    async def main() -> list[str]:
        running = th.Event()
        blocker = worker.submit(lambda: running.set() or gate.wait())
        running.wait(10)  # the thread is held while the others queue
        calls = [
            asyncio.ensure_future(worker.call_batched(run, item, key, priority=priority))
            for item, key, priority in [
                ("a", "k", URGENT),
                ("b", "other", URGENT),  # another key: a pass of its own
                ("c", "k", URGENT),
                ("d", "k", LATER),  # another priority: later, on its own
                ("e", "k", URGENT),
            ]
        ]
        await asyncio.sleep(0.05)
        calls[4].cancel()  # cancelled while queued: left out of its batch
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.wrap_future(blocker)
        done = await asyncio.gather(*calls, return_exceptions=True)
        return [d for d in done if isinstance(d, str)]

    assert asyncio.run(main()) == ["A", "B", "C", "D"]
    assert batches == [["a", "c"], ["b"], ["d"]]
    assert worker.in_flight == 0
    worker.close()


def test_a_batch_that_fails_fails_its_calls_and_not_the_worker() -> None:
    import pytest

    from server.core.errors import EngineError
    from server.engines import ModelWorker

    worker = ModelWorker(object(), "test")

    async def main() -> str:
        with pytest.raises(EngineError):
            await worker.call_batched(lambda items: [], "a", "k")  # no result for "a"
        with pytest.raises(ZeroDivisionError):
            await worker.call_batched(lambda items: [1 / 0], "b", "k")
        return await worker.call_batched(lambda items: [i.upper() for i in items], "c", "k")

    assert asyncio.run(main()) == "C"  # the worker's thread is still serving
    worker.close()


def test_whisper_encodes_short_questions_in_a_short_window() -> None:
    from server.engines import STT_RATE, encoder_window

    assert encoder_window(3 * STT_RATE) == 12  # a short question: the 12 s floor
    assert encoder_window(int(12.5 * STT_RATE)) == 14
    assert encoder_window(120 * STT_RATE) == 30  # never past Whisper's own window


def test_whisper_encoder_sees_only_the_window(engines: Engines) -> None:
    """faster-whisper pads features to 30 s; the transcriber pads them to the window."""
    stt = engines.stt.engine
    features = stt._features(np.zeros(3 * 16_000, np.float32), 1200)
    assert features.shape == (80, 1200)
    out = np.asarray(stt.model.model.encode(stt._storage(features[None])))
    assert out.shape[1] == 600  # 1,200 frames after the encoder's stride of 2, not 1,500


def test_utterances_transcribed_together_read_as_each_alone(engines: Engines) -> None:
    stt = engines.stt.engine
    utterances = [
        read_wav(name)[0].astype(np.float32) / 32768
        for name in ("capital.piper.wav", "fallback.piper.wav", "silence.wav")
    ]
    prompt = "Questions about Meta, Llama and Avocado."
    alone = [stt.transcribe(a, prompt) for a in utterances]
    assert "australia" in alone[0].lower() and "open models" in alone[1].lower()
    assert alone[2] == ""  # no speech: no words
    assert stt.transcribe_batch(utterances, prompt) == alone
    # Decoded again without the prompt, an utterance is not encoded again.
    encoded, features = [], stt._features
    stt._features = lambda audio, frames: encoded.append(1) or features(audio, frames)
    try:
        assert "australia" in stt.transcribe_batch(utterances[:1], None, again=True)[0].lower()
        assert encoded == []
        stt.transcribe(utterances[0], None)  # a first pass encodes
        assert encoded == [1]
    finally:
        del stt._features  # the method again


def test_a_warm_up_runs_each_loaded_model_once_then_checks_the_follow_ups(
    engines: Engines, tmp_path: Path
) -> None:
    from server.core.config import Settings
    from server.session.services import open_services

    services = open_services(Settings(data_dir=tmp_path), engines)
    ran: list[str] = []
    submits = {}
    for worker in (engines.stt, engines.llm, engines.tts):
        submits[worker] = worker.submit

        def submit(fn, *args, worker=worker, **kwargs):  # type: ignore[no-untyped-def]
            ran.append(worker.label)
            return submits[worker](fn, *args, **kwargs)

        worker.submit = submit  # type: ignore[method-assign]
    try:
        services.warm_up()
    finally:
        for worker, submit in submits.items():
            worker.submit = submit  # type: ignore[method-assign]
    assert sorted(ran) == ["llm", "stt", "tts"]
    assert not services.warmed.is_set()  # the follow-ups are not checked yet
    suggester = services.answerer.suggester
    assert suggester is not None
    services.warm_suggestions()
    assert services.warmed.is_set()
    assert suggester._checked and set(suggester._checked) == set(suggester._paragraphs)
    services.store.close()


def test_the_server_prepares_the_first_words_of_answers_within_its_cache(
    engines: Engines, tmp_path: Path
) -> None:
    """With the real voice: openings of the bundled articles are said until the cache
    (1 MB: some 15 of them) is full; one in it is the audio Piper makes for it."""
    from server.core.config import Settings
    from server.session.services import open_services
    from server.speak.cache import first_piece

    services = open_services(Settings(data_dir=tmp_path, speech_cache_mb=1), engines)
    try:
        made = asyncio.run(services.prepare_speech())
        cache = services.speech_cache
        assert services.speech_prepared.is_set()
        assert made == len(cache) > 5 and not cache.room(200_000)
        opening = first_piece(next(services.answerer.openings()))
        kept = cache.get(opening, 1.0)
        assert kept is not None and 0.2 < len(kept) / 2 / engines.synthesizer.sample_rate < 3
    finally:
        services.store.close()
