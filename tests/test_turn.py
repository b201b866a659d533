"""End of turn: the pure decision (when to ask, what ends the turn) and the real Smart
Turn model on spoken fixtures."""

from pathlib import Path

import numpy as np
import pytest

from server.core.catalog import resolve
from server.listen.end_of_turn import SmartTurn, TurnDecision, TurnSettings, reads_complete
from tests.conftest import read_wav


def test_the_model_is_asked_as_the_pause_grows_often_at_first_then_less() -> None:
    d = TurnDecision(TurnSettings("smart", short_ms=100, long_ms=2000))
    assert d.checkpoints == [100, 200, 300, 400, 500, 600, 900, 1200, 1500, 1800]
    assert not d.should_ask(True, 64)
    assert d.should_ask(True, 128)
    assert not d.should_ask(True, 160)  # once per checkpoint
    assert d.should_ask(True, 224) and not d.should_ask(True, 256)  # 100 ms later
    assert d.should_ask(True, 640) and not d.should_ask(True, 864)  # 300 ms apart later on
    assert d.should_ask(True, 928)
    assert not d.should_ask(True, 0)  # speech resumed: a new pause may come
    assert d.should_ask(True, 128)
    assert not d.should_ask(False, 224)  # no turn in progress


def test_checkpoints_passed_at_once_give_one_ask_and_none_past_the_long_wait() -> None:
    d = TurnDecision(TurnSettings("smart", short_ms=200, long_ms=700))
    assert d.checkpoints == [200, 300, 400, 500, 600]
    assert d.should_ask(True, 450) and not d.should_ask(True, 490)
    assert d.should_ask(True, 690) and not d.should_ask(True, 699)
    late = TurnDecision(TurnSettings("smart", short_ms=800, long_ms=2000))
    assert late.checkpoints == [800, 1100, 1400, 1700]


def test_the_frequent_early_asks_after_the_first_are_optional() -> None:
    """With the model busy (other learners' verdicts), only the first ask, the ones on
    the sparse 300 ms beat and the late ones are made."""
    d = TurnDecision(TurnSettings("smart", short_ms=100, long_ms=2000))
    made = []
    for ms in range(32, 2000, 32):
        if d.should_ask(True, ms):
            made.append((d.checkpoints[d._next - 1], d.optional))
    assert made == [
        (100, False), (200, True), (300, True), (400, False), (500, True),
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
