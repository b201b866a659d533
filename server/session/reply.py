"""The tutor's replies in one socket session: answers to questions (typed or spoken),
and things the tutor says of its own accord (a quiz question, its feedback).

    question ─▶ Reply (TurnRunner: retrieve, gate, answer, commit) ─▶ Outbox ─▶ Outlet
                                                 └─ verified sentences ─▶ Speaker ─┘

`Replies` owns the turn the learner hears now: starting one stops the one before,
`interrupt()` (a barge-in) stops generating and speaking at once and keeps in the history
only what the learner heard, and a playback report moves that mark to where the client
really stopped. A turn started on the early transcript is speculative: its `Outbox` holds
everything back until the learner's turn really ends with the same words (`release`),
and it is dropped unseen if they speak again. Both spoken turns and the quiz use it, so
barge-in, timings and heard history work the same for both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from server.core import protocol as p
from server.core.errors import TutorError
from server.engines import speaking_pace
from server.listen.events import Heard
from server.reason.answer.commands import PACE_CHANGED, adjust_speed, detect
from server.reason.answer.respond import Answer, AnswerDelta
from server.session.services import Services
from server.speak.transmit import Speaker
from server.teach import length_scale
from server.teach.learners import save_profile

log = logging.getLogger(__name__)
RECENT_TURNS = 8  # playback reports may name a turn a little older than the current one
PLAYBACK_SLACK_MS = 300  # the client's buffer: audio may still play this long after sending
# How long after its audio should have finished the reply may still come back through
# the microphone (the client's buffers, the room, a slow tab): speech heard that late is
# still checked against the reply. With the 300 ms of barge-in, the tail of the reply
# heard back 150 ms late started a new turn on 9 of the 13 spoken fixtures' replies.
ECHO_TAIL_MS = 1500


class Outlet(Protocol):
    """Where a session's events and audio go (the conversation's websocket)."""

    async def send(self, event: p.ServerEvent) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def error(self, code: str, message: str) -> None: ...


class Outbox:
    """A turn's way out to the client. A speculative turn (started on the early
    transcript, while the learner's turn may not be over) holds everything it would send
    until `open()`; an ordinary turn's outbox is open from the start."""

    def __init__(self, outlet: Outlet, open_: bool) -> None:
        self.outlet = outlet
        self.opened = asyncio.Event()
        if open_:
            self.opened.set()
        self._held: list[p.ServerEvent | bytes] = []
        self.first_audio_at: float | None = None

    async def send(self, event: p.ServerEvent) -> None:
        if self.opened.is_set():
            await self.outlet.send(event)
        else:
            self._held.append(event)

    async def send_bytes(self, data: bytes) -> None:
        if not self.opened.is_set():
            self._held.append(data)
            return
        await self._audio(data)

    async def _audio(self, data: bytes) -> None:
        await self.outlet.send_bytes(data)
        if self.first_audio_at is None:
            self.first_audio_at = time.perf_counter()

    async def open(self) -> None:
        """Send what was held, in order, then let the turn speak directly."""
        while self._held:
            item = self._held.pop(0)
            if isinstance(item, bytes):
                await self._audio(item)
            else:
                await self.outlet.send(item)
        self.opened.set()  # no await since the loop saw it empty: nothing slips past


class Reply:
    """One reply: its task, its speaker, its outbox, and what was said so far."""

    def __init__(self, outlet: Outlet, question: str, speculative: bool = False) -> None:
        self.turn_id = uuid.uuid4().hex[:12]
        self.question = question
        self.outbox = Outbox(outlet, open_=not speculative)
        self.task: asyncio.Task | None = None
        self.speaker: Speaker | None = None
        self.said: list[str] = []
        self.committed = False  # in the store (or nothing to store: a quiz line)
        self.heard: Heard | None = None
        self.timings: dict[str, float] = {}

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def audio_may_be_playing(self, slack_ms: float = PLAYBACK_SLACK_MS) -> bool:
        if self.speaker is None or self.outbox.first_audio_at is None:
            return False
        elapsed = 1000 * (time.perf_counter() - self.outbox.first_audio_at)
        return elapsed < self.speaker.sent_ms + slack_ms

    async def cancel(self) -> None:
        if self.speaker:
            self.speaker.cancel()
        if self.task and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    def heard_text(self, played_ms: float | None) -> str:
        """What the learner heard of this reply (or, without audio, what was shown)."""
        if self.speaker is None:
            return " ".join(self.said)
        first = self.outbox.first_audio_at
        elapsed = 1000 * (time.perf_counter() - first) if first else 0.0
        return self.speaker.heard_text(played_ms, elapsed)


class Replies:
    def __init__(
        self,
        outlet: Outlet,
        services: Services,
        *,
        channel: str,
        prefer_article: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.outlet = outlet
        self.services = services
        self.channel = channel
        self.prefer_article = prefer_article  # the lesson being played, if any
        self.session_id = ""
        self.learner_id: str | None = None  # whose progress this session's answers count to
        self.length_scale = 1.0  # the learner's speaking pace (Piper's length_scale)
        self.turn: Reply | None = None  # the reply the learner hears now
        self.speculative: Reply | None = None  # answering the early transcript, held back
        self.recent: dict[str, Reply] = {}

    # --- what the session asks ---------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A reply is being made, or its audio may still be playing."""
        return self.turn is not None and (self.turn.running or self.turn.audio_may_be_playing())

    def may_hear_itself(self) -> bool:
        """The reply's audio may still be coming back through the microphone."""
        return self.turn is not None and self.turn.audio_may_be_playing(ECHO_TAIL_MS)

    async def answer(self, question: str, *, speak: bool, heard: Heard | None = None) -> None:
        """Answer a question now; the reply before it (if still running) is stopped."""
        await self.drop_speculative()
        if self.turn and self.turn.running:
            await self.interrupt()
        turn = Reply(self.outlet, question)
        if heard is not None:
            turn.heard = heard
            turn.timings.update(heard.timings)
            await self.outlet.send(p.TranscriptFinal(text=question, turn_id=turn.turn_id))
        self._make_current(turn)
        turn.task = asyncio.create_task(self._answer(turn, speak))

    async def speculate(self, text: str, *, speak: bool = True) -> None:
        """Start answering the early transcript, holding everything back (`speak`: with
        reply audio, as the session's hello asked).

        The final transcript is usually ready a few hundred milliseconds before the
        learner's turn ends; when it ends with the same words, `release` sends the held
        events and audio at once."""
        if self.turn and self.turn.running:
            return
        command = detect(text)
        if command is not None and command.changes_speed:
            return  # a change of pace is made once the learner's turn has really ended
        await self.drop_speculative()
        turn = Reply(self.outlet, text, speculative=True)
        turn.timings["speculative"] = 1.0
        self.speculative = turn
        turn.task = asyncio.create_task(self._answer(turn, speak=speak))

    async def release(self, heard: Heard, admit: Callable[[], None]) -> bool:
        """Make the speculative answer the reply to `heard`, if it answers the same
        words; False (and the speculation dropped) if there is none that does. `admit`
        is the per-question check (rate limit): what it raises drops the answer too."""
        turn, self.speculative = self.speculative, None
        if turn is None:
            return False
        if turn.question != heard.text or turn.task is None or turn.task.cancelled():
            await turn.cancel()
            return False
        try:
            admit()
        except TutorError:
            await turn.cancel()
            raise
        turn.heard = heard
        turn.timings.update(heard.timings)
        await self.outlet.send(p.TranscriptFinal(text=heard.text, turn_id=turn.turn_id))
        self._make_current(turn)
        await turn.outbox.open()
        return True

    async def drop_speculative(self) -> None:
        turn, self.speculative = self.speculative, None
        if turn is not None:
            await turn.cancel()

    async def say(
        self,
        text: str,
        *,
        speak: bool,
        event: Callable[[str], p.ServerEvent],
        transcript: str | None = None,
        timing: str = "said",
    ) -> None:
        """Something the tutor says of its own accord (a quiz question, feedback): send
        `event(turn_id)` and, when speaking, read `text`. `transcript`: the learner's words
        this replies to, sent first as their final transcript. Nothing is added to the
        answer history, and barge-in stops it like any answer."""
        await self.drop_speculative()
        if self.turn and self.turn.running:
            await self.interrupt()
        turn = Reply(self.outlet, text)
        turn.committed = True
        if transcript is not None:
            await self.outlet.send(p.TranscriptFinal(text=transcript, turn_id=turn.turn_id))
        self._make_current(turn)
        turn.task = asyncio.create_task(self._say(turn, text, speak, event, timing))

    async def interrupt(self) -> None:
        """Barge-in: stop generating and speaking now; remember what was heard."""
        turn = self.turn
        if turn is None or not (turn.running or turn.audio_may_be_playing()):
            return
        await turn.cancel()
        await self.outlet.send(p.Interrupted(turn_id=turn.turn_id))
        self._record_heard(turn, played_ms=None)

    def playback(self, msg: p.Playback) -> None:
        """The client says how much of a turn's audio it played."""
        turn = self.recent.get(msg.turn_id)
        if turn is None:
            raise TutorError(f"no recent turn {msg.turn_id}", "unknown_turn")
        if turn.speaker is not None and turn.committed:
            self._record_heard(turn, played_ms=float(msg.played_ms))

    async def close(self) -> None:
        await self.drop_speculative()
        if self.turn is not None:
            await self.turn.cancel()

    # --- running a reply ---------------------------------------------------------------

    def _make_current(self, turn: Reply) -> None:
        self.turn = turn
        self.recent[turn.turn_id] = turn
        if len(self.recent) > RECENT_TURNS:
            self.recent.pop(next(iter(self.recent)))

    def _speaker(self, turn: Reply) -> Speaker:
        speaker = Speaker(
            self.services.engines.tts,
            turn.turn_id,
            turn.outbox.send,
            turn.outbox.send_bytes,
            length_scale=self.length_scale,
            cache=self.services.speech_cache,
        )
        turn.speaker = speaker
        speaker.start()
        return speaker

    def _deadline(self, speak: bool) -> float | None:
        ms = self.services.settings.voice_answer_deadline_ms
        return ms / 1000 if speak and ms else None

    def _change_pace(self, question: str) -> None:
        """ "Slower" / "faster": the new pace holds from this reply on (its acknowledgement
        is already spoken at it), and is kept as the learner's speed. At the slowest (or
        fastest) pace the reply says so instead (`commands.PACE_CHANGED`, read by the
        command's reply in this turn's task)."""
        store = self.services.store
        if self.learner_id is not None:  # set in the client (or another tab) meanwhile
            self.length_scale = length_scale(store, self.learner_id)
        command = detect(question)
        if command is None or not command.changes_speed:
            return
        before = self.length_scale
        self.length_scale, _ = adjust_speed(self.length_scale, command.kind)
        PACE_CHANGED.set(self.length_scale != round(speaking_pace(before), 3))
        if self.learner_id is not None:
            save_profile(store, self.learner_id, {"speed": round(1 / self.length_scale, 3)})

    async def _answer(self, turn: Reply, speak: bool) -> None:
        start = time.perf_counter()
        timings, outbox = turn.timings, turn.outbox
        self._change_pace(turn.question)
        speaker = self._speaker(turn) if speak else None
        try:
            async for item in self.services.turns.run(
                self.session_id,
                turn.question,
                channel=self.channel,
                turn_id=turn.turn_id,
                prefer_article=self.prefer_article(),
                extra_timings=timings,
                deadline=self._deadline(speak),
                commit_gate=outbox.opened,
                learner_id=self.learner_id,
            ):
                if isinstance(item, AnswerDelta):
                    turn.said.append(item.text.strip())
                    timings.setdefault("first_sentence", time.perf_counter() - start)
                    await outbox.send(p.AnswerDeltaEvent(text=item.text, turn_id=turn.turn_id))
                    if speaker:
                        speaker.say(item.text)
                elif isinstance(item, Answer):
                    timings.update(item.timings)
                    turn.committed = True
                    await outbox.send(
                        p.AnswerDone(
                            text=item.text,
                            grounded=item.grounded,
                            turn_id=turn.turn_id,
                            sources=[p.SourceOut(**s.to_dict()) for s in item.sources],
                            session_id=self.session_id,
                            suggestions=item.suggestions,
                        )
                    )
            if speaker:
                speaker.finish()
                await speaker.wait()
                if speaker.failed:
                    raise speaker.failed  # the text is shown; the learner is told why
            await outbox.opened.wait()
            self._audio_timings(turn, start)
            await outbox.send(p.metrics_event(turn.turn_id, timings))
        except asyncio.CancelledError:
            raise
        except TutorError as exc:
            # A speculative turn's failure (its voice server down) is told after what it
            # held back, once the learner's turn has ended with these words; a speculation
            # that is dropped is cancelled here and tells nothing.
            await outbox.opened.wait()
            await self.outlet.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a failed turn never ends the session
            log.exception("turn %s failed", turn.turn_id)
            await self.outlet.error("turn_failed", "sorry, answering that failed; please ask again")
        finally:
            if speaker:
                speaker.cancel()

    async def _say(
        self,
        turn: Reply,
        text: str,
        speak: bool,
        event: Callable[[str], p.ServerEvent],
        timing: str,
    ) -> None:
        start = time.perf_counter()
        speaker = None
        try:
            await turn.outbox.send(event(turn.turn_id))
            turn.said.append(text)
            if speak:
                speaker = self._speaker(turn)
                speaker.say(text)
                speaker.finish()
                await speaker.wait()
                if speaker.failed:
                    raise speaker.failed
            turn.timings[timing] = time.perf_counter() - start
            self._audio_timings(turn, start)
            await turn.outbox.send(p.metrics_event(turn.turn_id, turn.timings))
        except asyncio.CancelledError:
            raise
        except TutorError as exc:
            await self.outlet.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a failed reply never ends the session
            log.exception("reply %s failed", turn.turn_id)
            await self.outlet.error("turn_failed", "sorry, that failed; please try again")
        finally:
            if speaker is not None:
                speaker.cancel()

    @staticmethod
    def _audio_timings(turn: Reply, start: float) -> None:
        speaker, first, timings = turn.speaker, turn.outbox.first_audio_at, turn.timings
        if speaker is None:
            return
        timings["reply_audio_seconds"] = speaker.sent_ms / 1000
        if first is None:
            return
        timings["first_audio"] = first - start
        if speaker.synth_seconds:
            timings["tts_first_sentence"] = speaker.synth_seconds[0]
        if turn.heard is not None:
            timings["voice_to_voice"] = first - turn.heard.speech_end

    def _record_heard(self, turn: Reply, played_ms: float | None) -> None:
        """History keeps what the learner heard; a turn stopped before it was committed
        is stored with what it had said, marked interrupted."""
        store = self.services.store
        if not turn.committed:
            store.add_turn(
                self.session_id,
                turn.turn_id,
                turn.question,
                " ".join(turn.said),
                True,
                [],
                {"interrupted": 1.0},
            )
            turn.committed = True
        store.set_heard(self.session_id, turn.turn_id, turn.heard_text(played_ms))
