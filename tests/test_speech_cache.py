"""The first words of likely replies, synthesised ahead (server/speak/cache.py): the cache,
its preparation while no learner speaks, and a reply that starts with a kept opening."""

import asyncio
from collections.abc import Iterator

from server.engines import ModelWorker
from server.speak.cache import SpeechCache, first_piece, prepare
from server.speak.transmit import Speaker
from tests.fakes import FakeSynthesizer


class CountingVoice(FakeSynthesizer):
    def __init__(self) -> None:
        self.said: list[tuple[str, float]] = []

    def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
        self.said.append((text, length_scale))
        return super().synthesize(text, length_scale)


def test_the_cache_keeps_the_latest_audio_within_its_size() -> None:
    cache = SpeechCache(limit_bytes=10)
    cache.put("one", 1.0, b"1234")
    cache.put("two", 1.0, b"5678")
    assert cache.get("one", 1.0) == b"1234"  # now the latest used
    cache.put("three", 1.0, b"abcd")  # 12 bytes: the least recently used goes
    assert cache.get("two", 1.0) is None and cache.get("one", 1.0) == b"1234"
    assert cache.size == 8 and cache.room(2) and not cache.room(3)
    assert cache.get("one", 1.25) is None  # another pace is other audio
    cache.put("huge", 1.0, b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get("huge", 1.0) is None and len(cache) == 2


def test_the_first_piece_is_what_a_reply_synthesises_first() -> None:
    assert first_piece("Avocado was expected to launch in the spring. It slipped.") == (
        "Avocado was expected"
    )
    assert first_piece("Avocado is a model. It is big.") == "Avocado is a model."
    assert first_piece("") == ""


async def speak(worker: ModelWorker, text: str, cache: SpeechCache) -> bytes:
    sent: list[bytes] = []

    async def send_event(event: object) -> None:
        pass

    async def send_bytes(data: bytes) -> None:
        sent.append(data)

    speaker = Speaker(worker, "t1", send_event, send_bytes, cache=cache)
    speaker.start()
    speaker.say(text)
    speaker.finish()
    await speaker.wait()
    return b"".join(sent)


def test_a_reply_starting_with_a_kept_opening_is_not_synthesised_again() -> None:
    voice = CountingVoice()
    worker = ModelWorker(voice, "tts")
    cache = SpeechCache(1_000_000)
    text = "Avocado was expected to launch in the spring of next year."
    try:
        first = asyncio.run(speak(worker, text, cache))
        assert [t for t, _ in voice.said] == [
            "Avocado was expected",
            "to launch in the spring of next year.",
        ]
        voice.said.clear()
        again = asyncio.run(speak(worker, text, cache))
        # Only the rest is synthesised; the learner hears the same audio.
        assert [t for t, _ in voice.said] == ["to launch in the spring of next year."]
        assert again == first
    finally:
        worker.close()


def test_openings_are_prepared_while_no_one_speaks_until_the_cache_is_full() -> None:
    voice = CountingVoice()
    worker = ModelWorker(voice, "tts")
    speaking = [True]

    async def run(cache: SpeechCache) -> int:
        openings = [
            "Avocado was expected to launch in the spring of next year.",
            "Avocado was expected to launch in the spring of next year.",  # said once
            "The articles don't cover that.",
            "Meta's new frontier model, code-named Avocado, slipped to 2026.",
        ]
        task = asyncio.create_task(prepare(cache, worker, openings, lambda: speaking[0]))
        await asyncio.sleep(0.5)
        assert not voice.said  # a learner is speaking: nothing is synthesised
        speaking[0] = False
        return await task

    try:
        cache = SpeechCache(1_000_000)
        assert asyncio.run(run(cache)) == 3
        assert voice.said == [
            ("Avocado was expected", 1.0),
            ("The articles don't cover that.", 1.0),
            ("Meta's new frontier model,", 1.0),
        ]
        assert cache.get("Avocado was expected", 1.0) is not None
        # Kept already: nothing to do again.
        voice.said.clear()
        speaking[0] = True
        assert asyncio.run(run(cache)) == 0 and not voice.said
        # A cache too small for more than one piece stops after it.
        small = SpeechCache(len(cache.get("Avocado was expected", 1.0) or b""))
        speaking[0] = True
        assert asyncio.run(run(small)) == 1 and len(small) == 1
    finally:
        worker.close()


def test_an_opening_the_voice_cannot_say_is_skipped_not_the_rest() -> None:
    class Stumbling(CountingVoice):
        def synthesize(self, text: str, length_scale: float = 1.0) -> Iterator[bytes]:
            if "Avocado" in text:
                raise ValueError("no phonemes for that")
            return super().synthesize(text, length_scale)

    voice = Stumbling()
    worker = ModelWorker(voice, "tts")
    cache = SpeechCache(1_000_000)
    openings = ["Avocado is late.", "The articles don't cover that."]
    try:
        made = asyncio.run(prepare(cache, worker, openings, lambda: False))
    finally:
        worker.close()
    assert made == 1 and len(cache) == 1
    assert cache.get("The articles don't cover that.", 1.0) is not None
