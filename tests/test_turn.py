"""End of turn: the pure decision (when to ask, what ends the turn) and the real Smart
Turn model on spoken fixtures."""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from server.core.catalog import resolve
from server.listen.end_of_turn import SmartTurn, TurnDecision, TurnSettings, reads_complete
from tests.conftest import read_wav


def test_the_model_is_asked_as_the_pause_grows_often_at_first_then_less() -> None:
    d = TurnDecision(TurnSettings("smart", short_ms=100, long_ms=2000))
    # The first ask a VAD window ahead of short_ms; its verdict counts from short_ms on.
    assert d.checkpoints == [68, 200, 300, 400, 500, 600, 900, 1200, 1500, 1800]
    assert not d.should_ask(True, 64)
    assert d.should_ask(True, 96) and not d.due(96) and d.due(128)
    assert not d.should_ask(True, 128)  # once per checkpoint
    assert d.should_ask(True, 224) and not d.should_ask(True, 256)  # 100 ms later
    assert d.should_ask(True, 640) and not d.should_ask(True, 864)  # 300 ms apart later on
    assert d.should_ask(True, 928)
    assert not d.should_ask(True, 0)  # speech resumed: a new pause may come
    assert d.should_ask(True, 96)
    assert not d.should_ask(False, 224)  # no turn in progress


def test_checkpoints_passed_at_once_give_one_ask_and_none_past_the_long_wait() -> None:
    d = TurnDecision(TurnSettings("smart", short_ms=200, long_ms=700))
    assert d.checkpoints == [168, 300, 400, 500, 600]
    assert d.should_ask(True, 450) and not d.should_ask(True, 490)
    assert d.should_ask(True, 690) and not d.should_ask(True, 699)
    late = TurnDecision(TurnSettings("smart", short_ms=800, long_ms=2000))
    assert late.checkpoints == [768, 1100, 1400, 1700]


def test_the_frequent_early_asks_after_the_first_are_optional() -> None:
    """With the model busy (other learners' verdicts), only the first ask, the ones on
    the sparse 300 ms beat and the late ones are made."""
    d = TurnDecision(TurnSettings("smart", short_ms=100, long_ms=2000))
    made = []
    for ms in range(32, 2000, 32):
        if d.should_ask(True, ms):
            made.append((d.checkpoints[d._next - 1], d.optional))
    assert made == [
        (68, False), (200, True), (300, True), (400, False), (500, True),
        (600, False), (900, False), (1200, False), (1500, False), (1800, False),
    ]  # fmt: skip


def test_the_silence_timer_never_asks() -> None:
    d = TurnDecision(TurnSettings("silence"))
    assert not any(d.should_ask(True, ms) for ms in range(0, 3000, 32))


def test_a_complete_verdict_ends_the_turn() -> None:
    assert TurnDecision.ends_turn(0.97) and not TurnDecision.ends_turn(0.03)


def test_words_that_read_complete_end_an_unsure_pause_once_it_has_lasted() -> None:
    done = "Which open models are suggested as a fallback to Llama?"
    assert TurnDecision.ends_turn(0.2, 320, done)
    assert not TurnDecision.ends_turn(0.2, 200, done)  # the pause is young: the model decides
    assert not TurnDecision.ends_turn(0.02, 900, done)  # the model hears them go on...
    assert TurnDecision.ends_turn(0.02, 1216, done)  # ... but not for that long
    assert not TurnDecision.ends_turn(0.02, 1216, "When is Avocado, um,")
    assert not TurnDecision.ends_turn(0.2, 900, None)  # no transcript yet
    # Words that end open, or trail off, are not read as finished.
    for going_on in ("What did Madison say about", "What did Madison say about?",
                     "When is Avocado, um,", "When is Avocado...", "Who is?"):  # fmt: skip
        assert not reads_complete(going_on), going_on
    assert reads_complete("What happened to Stability AI?") and reads_complete("Tell me more.")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> SmartTurn:
    return SmartTurn(resolve("turn", "smart-turn-v3.2", tmp_path_factory.mktemp("turn")))


def audio(name: str) -> np.ndarray:
    samples, rate = read_wav(name)
    assert rate == 16_000
    return samples.astype(np.float32) / 32768


def with_pause(samples: np.ndarray, seconds: float = 0.2) -> np.ndarray:
    return np.concatenate([samples, np.zeros(int(16_000 * seconds), np.float32)])


@pytest.mark.parametrize(
    "name", ["avocado_launch.piper.wav", "chief_officer.piper.wav", "fallback.piper.wav"]
)
def test_a_finished_question_ends_after_the_short_pause(model: SmartTurn, name: str) -> None:
    assert TurnDecision.ends_turn(model.probability(with_pause(audio(name))))


def test_a_question_broken_off_on_a_filler_waits(model: SmartTurn) -> None:
    samples = audio("paused.piper.wav")
    # The first half ("When is Avocado, um,") ends where the one-second pause begins.
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    gaps = np.flatnonzero(np.diff(loud) > 16_000 * 0.5)
    first_half = samples[: loud[gaps[0]] + 1]
    assert not TurnDecision.ends_turn(model.probability(with_pause(first_half)))


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    from server.core.config import Settings
    from server.core.errors import ConfigError

    s = Settings(data_dir=tmp_path, turn_model=str(tmp_path / "nope.onnx"))
    with pytest.raises(ConfigError, match="TUTOR_TURN_MODEL"):
        s.check()


class SureModel:
    """An end-of-turn model that hears every pause as the end, at once."""

    busy = False

    def probability(self, audio: np.ndarray) -> float:
        return 0.99


async def listen_to(silence_ms: int) -> tuple[list[object], list[tuple[int, bool]]]:
    """A tone, a silence, a tone, fed in 32 ms frames with time for the model's verdict
    after each; the events, and (silence so far, still in the turn) after each frame."""
    from server.engines import ModelWorker
    from server.listen.capture import AudioInput
    from server.listen.segment import Segmenter, VadSettings
    from server.listen.transcribe import Listener
    from tests.fakes import FakeTranscriber, FakeVad, quiet, tone

    events: list[object] = []

    async def emit(event: object) -> None:
        events.append(event)

    stt = ModelWorker(FakeTranscriber(), "stt")
    vad = VadSettings(silence_ms=2000)
    listener = Listener(
        stt, AudioInput(16_000, 64_000), vad, lambda: "", emit,
        turn=TurnSettings("smart", short_ms=100, long_ms=2000),
        turn_model=SureModel(),  # type: ignore[arg-type]
    )  # fmt: skip
    listener.segmenter = Segmenter(vad, vad=FakeVad())
    audio = np.concatenate([tone(480), quiet(silence_ms), tone(480)])
    frames: list[tuple[int, bool]] = []
    try:
        for i in range(0, len(audio), 512):
            await listener.feed((audio[i : i + 512] * 32767).astype(np.int16).tobytes())
            await asyncio.sleep(0.03)
            frames.append((max(0, (i + 512) // 16 - 480), listener.speaking))
        await asyncio.sleep(0.1)
    finally:
        listener.close()
        stt.close()
    return events, frames


def test_a_verdict_asked_a_window_early_ends_the_turn_once_the_pause_is_long_enough() -> None:
    """The model is asked at 96 ms of silence; its "complete" ends the turn at 128 ms,
    not before, and not at all when the learner goes on after 96 ms."""
    from server.listen.events import Heard

    events, frames = asyncio.run(listen_to(96))
    assert not any(isinstance(e, Heard) for e in events)  # went on: no turn ended
    events, frames = asyncio.run(listen_to(320))
    assert (96, True) in frames and (128, False) in frames  # ended at 128 ms, not 96
    heard = [e for e in events if isinstance(e, Heard)]
    assert len(heard) == 1 and heard[0].timings["end_of_turn_p"] == 0.99
