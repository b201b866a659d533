"""The reply runner on fakes: the gate holds a speculative answer back and sends it whole
on release; a barge-in stops the reply and keeps in the history what was heard; the
quiz's lines go through the same turns. No models, no socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from server.core import protocol as p
from server.core.errors import TutorError
from server.engines import ModelWorker
from server.listen.events import Heard
from server.reason.answer.cite import Source
from server.reason.answer.respond import Answer, AnswerDelta
from server.session.reply import Outbox, Replies
from tests.fakes import FakeSynthesizer


class Outlet:
    def __init__(self) -> None:
        self.events: list[p.ServerEvent] = []
        self.audio: list[bytes] = []
        self.errors: list[str] = []

    async def send(self, event: p.ServerEvent) -> None:
        self.events.append(event)

    async def send_bytes(self, data: bytes) -> None:
        self.audio.append(data)

    async def error(self, code: str, message: str) -> None:
        self.errors.append(code)

    def types(self) -> list[str]:
        return [e.type for e in self.events]  # type: ignore[attr-defined]


class FakeTurns:
    """The TurnRunner's interface: a sentence at a time, then the committed answer."""

    def __init__(self, sentences: list[str], pause: float = 0.0) -> None:
        self.sentences = sentences
        self.pause = pause
        self.committed: list[str] = []

    async def run(self, session_id: str, question: str, **kw: Any) -> AsyncIterator[Any]:
        for sentence in self.sentences:
            await asyncio.sleep(self.pause)
            yield AnswerDelta(sentence + " ")
        gate = kw.get("commit_gate")
        if gate is not None:
            await gate.wait()
        self.committed.append(kw["turn_id"])
        source = Source(1, "An article", self.sentences[0], 0)
        yield Answer(" ".join(self.sentences), True, [source], timings={"answer": 0.01})


class FakeStore:
    def __init__(self) -> None:
        self.turns: dict[str, dict[str, Any]] = {}

    def add_turn(self, session_id: str, turn_id: str, question: str, answer: str, *a: Any) -> None:
        self.turns[turn_id] = {"question": question, "answer": answer, "heard": None}

    def set_heard(self, session_id: str, turn_id: str, heard: str) -> None:
        if turn_id in self.turns:
            self.turns[turn_id]["heard"] = heard


def replies(sentences: list[str], pause: float = 0.0) -> tuple[Replies, Outlet, Any]:
    services = SimpleNamespace(
        engines=SimpleNamespace(tts=ModelWorker(FakeSynthesizer(), "tts")),
        turns=FakeTurns(sentences, pause),
        store=FakeStore(),
        settings=SimpleNamespace(voice_answer_deadline_ms=0),
        speech_cache=None,
    )
    outlet = Outlet()
    r = Replies(outlet, services, channel="voice")  # type: ignore[arg-type]
    r.session_id = "s1"
    return r, outlet, services


async def settle(r: Replies) -> None:
    if r.turn and r.turn.task:
        await r.turn.task


def test_an_answer_sends_its_sentences_audio_and_metrics_in_order() -> None:
    async def go() -> None:
        r, out, _ = replies(["Avocado is a model.", "It was delayed."])
        await r.answer("What is Avocado?", speak=True)
        await settle(r)
        kinds = out.types()
        assert kinds[:2] == ["answer.delta", "answer.delta"]
        assert kinds.index("answer.done") < kinds.index("audio.end") < kinds.index("turn.metrics")
        assert out.audio and not out.errors
        metrics = out.events[-1]
        assert metrics.reply_audio_seconds > 0  # type: ignore[attr-defined]

    asyncio.run(go())


def test_the_outbox_holds_everything_until_it_opens_then_sends_it_in_order() -> None:
    async def go() -> None:
        out = Outlet()
        outbox = Outbox(out, open_=False)
        await outbox.send(p.SpeechStopped())
        await outbox.send_bytes(b"\x00\x00")
        assert out.events == [] and out.audio == [] and outbox.first_audio_at is None
        await outbox.open()
        assert out.types() == ["speech.stopped"] and out.audio == [b"\x00\x00"]
        assert outbox.first_audio_at is not None
        await outbox.send(p.Pong())
        assert out.types()[-1] == "pong"

    asyncio.run(go())


def test_a_speculative_answer_is_released_when_the_learner_said_the_same() -> None:
    async def go() -> None:
        r, out, services = replies(["Avocado is a model."])
        await r.speculate("What is Avocado?")
        await asyncio.sleep(0.05)
        assert out.events == [] and services.turns.committed == []  # held, not committed
        heard = Heard("What is Avocado?", speech_end=0.0, timings={"stt_wait": 0.1})
        assert await r.release(heard, admit=lambda: None)
        await settle(r)
        assert out.types()[0] == "transcript.final"
        assert "answer.done" in out.types() and len(services.turns.committed) == 1

    asyncio.run(go())


def test_a_speculative_answer_to_other_words_is_dropped_unseen() -> None:
    async def go() -> None:
        r, out, services = replies(["Avocado is a model."])
        await r.speculate("What is Avocado?")
        heard = Heard("What is Avocado's launch date?", speech_end=0.0)
        assert not await r.release(heard, admit=lambda: None)
        assert out.events == [] and services.turns.committed == []

    asyncio.run(go())


def test_a_refused_question_drops_the_held_answer_and_says_why() -> None:
    async def go() -> None:
        r, out, services = replies(["Avocado is a model."])
        await r.speculate("What is Avocado?")

        def refuse() -> None:
            raise TutorError("slow down", "rate_limited")

        with pytest.raises(TutorError):
            await r.release(Heard("What is Avocado?", 0.0), admit=refuse)
        assert out.events == [] and services.turns.committed == []

    asyncio.run(go())


def test_barge_in_stops_the_reply_and_the_history_keeps_what_was_shown() -> None:
    async def go() -> None:
        r, out, services = replies(["One.", "Two.", "Three.", "Four."], pause=0.05)
        await r.answer("Count for me", speak=False)
        await asyncio.sleep(0.12)
        await r.interrupt()
        assert "interrupted" in out.types() and "answer.done" not in out.types()
        (turn,) = services.store.turns.values()
        assert turn["question"] == "Count for me"
        assert turn["heard"] and "Four." not in turn["heard"]
        assert not r.busy

    asyncio.run(go())


def test_a_new_question_stops_the_running_reply() -> None:
    async def go() -> None:
        r, out, _ = replies(["One.", "Two.", "Three."], pause=0.05)
        await r.answer("first", speak=False)
        await asyncio.sleep(0.06)
        first = r.turn
        await r.answer("second", speak=False)
        await settle(r)
        assert first is not None and first.task is not None and first.task.cancelled()
        assert out.types().count("interrupted") == 1 and out.types().count("answer.done") == 1

    asyncio.run(go())


def test_a_quiz_line_is_a_reply_too_and_adds_nothing_to_the_history() -> None:
    async def go() -> None:
        r, out, services = replies(["unused."])
        await r.say(
            "Who leads the lab?",
            speak=True,
            event=lambda turn_id: p.Pong(),
            transcript="my answer",
            timing="quiz",
        )
        await settle(r)
        assert out.types()[:2] == ["transcript.final", "pong"]
        assert out.audio and services.store.turns == {}
        assert "quiz" in out.events[-1].model_dump()  # turn.metrics

    asyncio.run(go())


def test_playback_of_an_unknown_turn_is_a_typed_error() -> None:
    r, _, _ = replies(["x."])
    with pytest.raises(TutorError) as exc:
        r.playback(p.Playback(type="playback", turn_id="nope", played_ms=10))
    assert exc.value.code == "unknown_turn"
