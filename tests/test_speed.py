"""Speaking speed: Piper's length_scale per call, bounded; the fake voice follows it too."""

import numpy as np
import pytest

from server.core.catalog import resolve
from server.core.config import Settings
from server.engines import MAX_LENGTH_SCALE, MIN_LENGTH_SCALE, PiperSynthesizer, speaking_pace
from tests.fakes import FakeSynthesizer

TEXT = "Avocado is a frontier language model that Meta is building."


def seconds(pcm: bytes, rate: int) -> float:
    return len(np.frombuffer(pcm, dtype=np.int16)) / rate


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> PiperSynthesizer:
    """The real default voice from the catalog, alone (no Whisper or LLM to load)."""
    s = Settings(data_dir=tmp_path_factory.mktemp("voice"))
    return PiperSynthesizer(resolve("tts", s.tts_voice, s.cache_dir), s.tts_voice, threads=1)


def test_a_larger_length_scale_gives_longer_piper_audio(piper: PiperSynthesizer) -> None:
    normal = seconds(b"".join(piper.synthesize(TEXT)), piper.sample_rate)
    slow = seconds(b"".join(piper.synthesize(TEXT, length_scale=1.5)), piper.sample_rate)
    fast = seconds(b"".join(piper.synthesize(TEXT, length_scale=0.75)), piper.sample_rate)
    assert fast < normal < slow
    # Durations grow with it (a little less than in proportion: 1.3-1.45x measured here).
    assert 1.15 < slow / normal < 1.8, (normal, slow)
    # Out of range is held at the bounds, not refused (Piper's durations vary a little
    # from call to call: its phoneme-width noise).
    slowest = seconds(b"".join(piper.synthesize(TEXT, length_scale=50)), piper.sample_rate)
    assert slowest == pytest.approx(
        seconds(b"".join(piper.synthesize(TEXT, length_scale=MAX_LENGTH_SCALE)), piper.sample_rate),
        rel=0.1,
    )


def test_speaking_pace_is_bounded() -> None:
    assert speaking_pace(1.25) == 1.25
    assert speaking_pace(0.1) == MIN_LENGTH_SCALE and speaking_pace(9) == MAX_LENGTH_SCALE
    assert speaking_pace(float("nan")) == 1.0 and speaking_pace(float("inf")) == 1.0


def test_the_fake_voice_stretches_with_length_scale_too() -> None:
    fake = FakeSynthesizer()
    normal = seconds(b"".join(fake.synthesize(TEXT)), fake.sample_rate)
    slow = seconds(b"".join(fake.synthesize(TEXT, length_scale=1.5)), fake.sample_rate)
    assert slow == pytest.approx(1.5 * normal, rel=0.01)
