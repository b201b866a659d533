"""One websocket session, for both /ws/voice (listens and speaks) and /ws/chat (typed
questions; speaks on request). All per-connection state lives here.

    hello ─▶ ready
    PCM frames ─▶ Listener ─▶ speech.started / transcript.partial / speech.stopped
                           ─▶ transcript.final ─▶ turn
    text ─▶ turn
    turn: answer.delta ... (verified sentences) ─▶ Speaker (Piper) ─▶ audio frames
          answer.done (after the turn is committed) ─▶ audio.end ─▶ turn.metrics

Barge-in: speech from the learner (or `interrupt`) while a turn runs or its audio may
still be playing cancels the LLM and the TTS at once, sends `interrupted`, and keeps in
the history only what the learner heard. A failed turn sends `error` and the session
goes on; nothing a client sends ends it except closing the socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from starlette.websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

from server import protocol as p
from server.access import client_key
from server.errors import TutorError
from server.lessons.live import QuizSession
from server.listen.capture import AudioInput
from server.listen.echo import EchoReference
from server.listen.segment import VadSettings
from server.listen.transcribe import Heard, Listener
from server.listen.turn import TurnSettings
from server.listen.vocabulary import whisper_prompt
from server.metrics import ERRORS, SESSIONS
from server.reason.respond import Answer, AnswerDelta
from server.services import Services
from server.speak.transmit import Speaker
from server.turns import Turn

log = logging.getLogger(__name__)
# What sending to (or reading from) a socket whose client has left raises: Starlette's
# two (the second once it knows), and uvicorn's ClientDisconnected (an OSError).
GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)


class Conversation:
    def __init__(self, ws: WebSocket, services: Services, *, listen: bool) -> None:
        self.ws = ws
        self.services = services
        self.settings = services.settings
        self.listen = listen
        self.speak_default = listen
        self.session_id = ""
        self.listener: Listener | None = None
        self.turn: Turn | None = None
        self.speculative: Turn | None = None  # answering the early transcript, held back
        self.recent: dict[str, Turn] = {}
        self.lesson: p.LessonContext | None = None
        self.quiz = QuizSession(self)
        self._send_lock = asyncio.Lock()
        self.echo = EchoReference()  # the reply audio sent, for the echo check
        self._closed = False

    # --- sending ----------------------------------------------------------------------

    async def send(self, event: p.ServerEvent | dict[str, Any]) -> None:
        text = event.json_text() if isinstance(event, p.ServerEvent) else json.dumps(event)
        async with self._send_lock:
            if not self._closed:
                with self._unless_gone():
                    await self.ws.send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        # Reply audio is all that goes out as bytes: the echo check compares against it.
        self.echo.add(data, self.services.engines.synthesizer.sample_rate)
        async with self._send_lock:
            if not self._closed:
                with self._unless_gone():
                    await self.ws.send_bytes(data)

    @contextlib.contextmanager
    def _unless_gone(self) -> Iterator[None]:
        """A client that leaves (even mid-reply) is a normal end, not an error: what is
        still to be sent is dropped, and the receive loop ends at its disconnect."""
        try:
            yield
        except GONE:
            self._closed = True

    async def error(self, code: str, message: str) -> None:
        if self._closed:
            return  # no one to tell
        ERRORS.labels(code=code).inc()
        await self.send(p.Error(code=code, message=message))

    # --- the session loop -------------------------------------------------------------

    async def run(self) -> None:
        try:
            hello = await self._hello()
            if hello is None:
                return
            grant = self.services.store.open_session(hello.session_id, hello.session_secret)
            self.session_id = grant.id
            self.speak_default = self.listen if hello.speak is None else hello.speak
            if self.listen:
                self.listener = Listener(
                    self.services.engines.stt,
                    AudioInput(hello.sample_rate, self.settings.max_message_bytes),
                    VadSettings(
                        # With the smart detector the timer is only the longest wait.
                        silence_ms=self.settings.turn_long_ms
                        if self.services.turn_model is not None
                        else self.settings.vad_silence_ms,
                        max_ms=self.settings.max_utterance_ms,
                    ),
                    lambda: whisper_prompt(self.services.index.vocabulary()),
                    self._on_listen_event,
                    partial_ms=self.settings.partial_interval_ms,
                    talkers=lambda: self.ws.app.state.active_sessions.get("voice", 1),
                    strange=lambda text: self.services.index.lexicon.strange_words(text),
                    turn=TurnSettings(
                        "smart" if self.services.turn_model is not None else "silence",
                        self.settings.turn_short_ms,
                        self.settings.turn_long_ms,
                    ),
                    turn_model=self.services.turn_model,
                    echo=self.echo,
                    replying=lambda: self.turn is not None and self.turn.audio_may_be_playing(),
                )
            await self.send(
                p.Ready(
                    session_id=self.session_id,
                    session_secret=grant.secret,
                    resumed=grant.resumed,
                    notice=p.resume_notice(hello.session_id, grant.resumed),
                    input_rate=hello.sample_rate,
                    output_rate=self.services.engines.synthesizer.sample_rate,
                )
            )
            while True:
                message = await asyncio.wait_for(
                    self.ws.receive(), timeout=self.settings.idle_timeout_s
                )
                if message["type"] == "websocket.disconnect":
                    break
                await self._dispatch(message)
        except TimeoutError:
            await self.error("idle_timeout", "closing an idle session")
            await close(self.ws, 1000)
        except GONE:
            pass
        finally:
            self._closed = True
            await self._drop_speculative()
            await self._cancel_turn()
            if self.listener:
                self.listener.close()

    async def _hello(self) -> p.Hello | None:
        """The first message should be `hello`; anything else gets an error and the
        defaults, so a sloppy client still works. A socket that says nothing is closed
        after TUTOR_HELLO_TIMEOUT_S, so silent sockets cannot hold sessions."""
        try:
            message = await asyncio.wait_for(
                self.ws.receive(), timeout=self.settings.hello_timeout_s
            )
        except TimeoutError:
            await self.error(
                "hello_timeout",
                f"no hello within {self.settings.hello_timeout_s:g} s; closing",
            )
            await close(self.ws, 1000)
            return None
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("text") is not None:
            try:
                self._check_size(message)
                first = p.parse_client(message["text"])
            except TutorError as exc:
                await self.error(exc.code, exc.message)
                return p.Hello(type="hello")
            if isinstance(first, p.Hello):
                return first
        await self.error("bad_message", "the first message must be hello; using defaults")
        return p.Hello(type="hello")

    async def _dispatch(self, message: dict[str, Any]) -> None:
        try:
            self._check_size(message)
            data, text = message.get("bytes"), message.get("text")
            if data is not None:
                if self.listener is None:
                    raise TutorError(
                        "this socket takes text questions, not audio; use /ws/voice for speech",
                        "audio_not_accepted",
                    )
                await self.listener.feed(data)
            elif text is not None:
                await self._on_message(p.parse_client(text))
        except TutorError as exc:
            await self.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a bug must not end the session
            log.exception("error handling a message")
            await self.error("internal", "something went wrong handling that message")

    def _check_size(self, message: dict[str, Any]) -> None:
        """Our message limit, in bytes as sent (UTF-8 for text). The transport refuses
        what is far past it (see server.app.TooLargeFirst); this refuses the rest."""
        data, text = message.get("bytes"), message.get("text")
        limit = self.settings.max_message_bytes
        size = len(data) if data is not None else len(text or "")
        if data is None and size * 4 > limit:  # a character is at most 4 bytes
            size = len((text or "").encode("utf-8", "surrogatepass"))
        if size > limit:
            raise TutorError(f"message of {size} bytes is over the {limit}-byte limit", "too_large")

    async def _on_message(self, msg: p.ClientMessage) -> None:
        if isinstance(msg, p.Text):
            speak = self.speak_default if msg.speak is None else msg.speak
            await self.start_turn(msg.text, speak=speak)
        elif isinstance(msg, p.Interrupt):
            await self.interrupt()
        elif isinstance(msg, p.Playback):
            self._on_playback(msg)
        elif isinstance(msg, p.LessonContext):
            self.lesson = msg if msg.lesson_id is not None else None
        elif isinstance(msg, p.QuizAsk):
            await self.quiz.ask(msg, speak=self.speak_default)
        elif isinstance(msg, p.Ping):
            await self.send(p.Pong())
        elif isinstance(msg, p.Hello):
            await self.error("bad_message", "hello was already received")

    # --- listening --------------------------------------------------------------------

    async def _on_listen_event(self, kind: str, data: dict[str, Any]) -> None:
        """Listener events; some arrive from its own tasks, so errors are sent here."""
        try:
            await self._listen_event(kind, data)
        except TutorError as exc:
            await self.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a failed turn never ends the session
            log.exception("error handling %s", kind)
            await self.error("internal", "something went wrong while listening")

    async def _listen_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "speech.started":
            await self._drop_speculative()  # the learner wasn't done: nothing was heard
            if self.turn and (self.turn.running or self.turn.audio_may_be_playing()):
                await self.interrupt()
            await self.send(p.SpeechStarted())
        elif kind == "early":
            await self._speculate(data["text"])
        elif kind == "speech.stopped":
            await self.send(p.SpeechStopped())
        elif kind == "transcript.partial":
            await self.send(p.TranscriptPartial(text=data["text"]))
        elif kind == "error":
            await self.error(data["code"], data["message"])
        elif kind == "heard":
            heard: Heard = data["heard"]
            if not heard.text.strip():
                await self.error("no_speech", "I didn't catch any words; please say that again")
                return
            if heard.forced:
                await self.error(
                    "too_long",
                    "that was long: I stopped listening after "
                    f"{self.settings.max_utterance_ms // 1000} s and will answer",
                )
            if not await self._release_speculative(heard):
                await self.start_turn(heard.text, speak=True, heard=heard)

    # --- turns ------------------------------------------------------------------------

    async def start_turn(self, question: str, *, speak: bool, heard: Heard | None = None) -> None:
        self.services.access.allow_question(client_key(self.ws))
        if self.quiz.pending is not None:  # the learner is answering a quiz question
            await self.quiz.answer(question, speak=speak, heard=heard)
            return
        await self._drop_speculative()
        if self.turn and self.turn.running:
            await self.interrupt()
        turn = Turn(self, uuid.uuid4().hex[:12], question)
        if heard is not None:
            turn.heard = heard
            turn.timings.update(heard.timings)
            await self.send(p.TranscriptFinal(text=question, turn_id=turn.turn_id))
        self.make_current(turn)
        turn.task = asyncio.create_task(self._run_turn(turn, speak))

    def make_current(self, turn: Turn) -> None:
        """The turn the learner now hears (barge-in and playback reports refer to it)."""
        self.turn = turn
        self.recent[turn.turn_id] = turn
        if len(self.recent) > 8:
            self.recent.pop(next(iter(self.recent)))

    # --- speculative answers ----------------------------------------------------------
    #
    # The final transcript is usually ready a few hundred milliseconds before the
    # silence window ends the learner's turn. The answer starts then, with everything
    # it sends held back; when the turn ends with the same words, the held events and
    # audio go out at once. If the learner speaks again, the answer is dropped unseen.

    async def _speculate(self, text: str) -> None:
        if self.quiz.pending is not None or (self.turn and self.turn.running):
            return
        await self._drop_speculative()
        turn = Turn(self, uuid.uuid4().hex[:12], text, speculative=True)
        turn.timings["speculative"] = 1.0
        self.speculative = turn
        turn.task = asyncio.create_task(self._run_turn(turn, speak=True))

    async def _release_speculative(self, heard: Heard) -> bool:
        turn, self.speculative = self.speculative, None
        if turn is None:
            return False
        if turn.question != heard.text or turn.task is None or turn.task.cancelled():
            await self._cancel(turn)
            return False
        try:
            self.services.access.allow_question(client_key(self.ws))
        except TutorError:
            await self._cancel(turn)
            raise
        turn.heard = heard
        turn.timings.update(heard.timings)
        await self.send(p.TranscriptFinal(text=heard.text, turn_id=turn.turn_id))
        self.make_current(turn)
        await turn.gate.open()
        return True

    async def _drop_speculative(self) -> None:
        turn, self.speculative = self.speculative, None
        if turn is not None:
            await self._cancel(turn)

    def _deadline(self, speak: bool) -> float | None:
        ms = self.settings.voice_answer_deadline_ms
        return ms / 1000 if speak and ms else None

    def _prefer_article(self) -> int | None:
        """The lesson's article, if any. Only a preference: a lesson context that can't
        be looked up is dropped, and never fails this question or the next."""
        if self.lesson is None or self.lesson.lesson_id is None:
            return None
        try:
            return self.services.lesson_article(self.lesson.lesson_id, self.lesson.segment)
        except Exception:  # noqa: BLE001 - see above
            log.exception("dropping lesson context %s", self.lesson)
            self.lesson = None
            return None

    async def _run_turn(self, turn: Turn, speak: bool) -> None:
        start = time.perf_counter()
        timings = turn.timings
        gate = turn.gate
        if speak:
            turn.speaker = Speaker(
                self.services.engines.tts, turn.turn_id, gate.send, gate.send_bytes
            )
            turn.speaker.start()
        try:
            async for item in self.services.turns.run(
                self.session_id,
                turn.question,
                channel="voice" if self.listen else "chat",
                turn_id=turn.turn_id,
                prefer_article=self._prefer_article(),
                extra_timings=timings,
                deadline=self._deadline(speak),
                commit_gate=gate.opened,
            ):
                if isinstance(item, AnswerDelta):
                    turn.said.append(item.text.strip())
                    timings.setdefault("first_sentence", time.perf_counter() - start)
                    await gate.send(p.AnswerDeltaEvent(text=item.text, turn_id=turn.turn_id))
                    if turn.speaker:
                        turn.speaker.say(item.text)
                elif isinstance(item, Answer):
                    timings.update(item.timings)
                    turn.committed = True
                    await gate.send(
                        p.AnswerDone(
                            text=item.text,
                            grounded=item.grounded,
                            turn_id=turn.turn_id,
                            sources=[p.SourceOut(**s.to_dict()) for s in item.sources],
                            session_id=self.session_id,
                        )
                    )
            if turn.speaker:
                turn.speaker.finish()
                await turn.speaker.wait()
            await gate.opened.wait()
            self._audio_timings(turn, start, timings)
            await gate.send(p.metrics_event(turn.turn_id, timings))
        except asyncio.CancelledError:
            raise
        except TutorError as exc:
            await self.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a failed turn never ends the session
            log.exception("turn %s failed", turn.turn_id)
            await self.error("turn_failed", "sorry, answering that failed; please ask again")
        finally:
            if turn.speaker:
                turn.speaker.cancel()

    def _audio_timings(self, turn: Turn, start: float, timings: dict[str, float]) -> None:
        speaker, first = turn.speaker, turn.gate.first_audio_at
        if speaker is None or first is None:
            return
        timings["first_audio"] = first - start
        if speaker.synth_seconds:
            timings["tts_first_sentence"] = speaker.synth_seconds[0]
        timings["reply_audio_seconds"] = speaker.sent_ms / 1000
        if turn.heard is not None:
            timings["voice_to_voice"] = first - turn.heard.speech_end

    async def interrupt(self) -> None:
        """Barge-in: stop generating and speaking now; remember what was heard."""
        turn = self.turn
        if turn is None or not (turn.running or turn.audio_may_be_playing()):
            return
        await self._cancel_turn()
        await self.send(p.Interrupted(turn_id=turn.turn_id))
        self._record_heard(turn, played_ms=None)

    async def _cancel_turn(self) -> None:
        if self.turn is not None:
            await self._cancel(self.turn)

    @staticmethod
    async def _cancel(turn: Turn) -> None:
        if turn.speaker:
            turn.speaker.cancel()
        if turn.task and not turn.task.done():
            turn.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn.task

    def _record_heard(self, turn: Turn, played_ms: float | None) -> None:
        """History keeps what the learner heard (or, without audio, what was shown)."""
        if turn.speaker is not None:
            first = turn.gate.first_audio_at
            elapsed = 1000 * (time.perf_counter() - first) if first else 0.0
            heard = turn.speaker.heard_text(played_ms, elapsed)
        else:
            heard = " ".join(turn.said)
        if turn.committed:
            self.services.store.set_heard(self.session_id, turn.turn_id, heard)
        else:
            self.services.store.add_turn(
                self.session_id,
                turn.turn_id,
                turn.question,
                " ".join(turn.said),
                True,
                [],
                {"interrupted": 1.0},
            )
            self.services.store.set_heard(self.session_id, turn.turn_id, heard)
            turn.committed = True

    def _on_playback(self, msg: p.Playback) -> None:
        turn = self.recent.get(msg.turn_id)
        if turn is None:
            raise TutorError(f"no recent turn {msg.turn_id}", "unknown_turn")
        if turn.speaker is not None and turn.committed:
            self._record_heard(turn, played_ms=float(msg.played_ms))


async def close(ws: WebSocket, code: int) -> None:
    """Close the socket, unless the client has gone already."""
    if ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(*GONE):
            await ws.close(code=code)


async def refuse(ws: WebSocket, code: str, message: str, close_code: int) -> None:
    ERRORS.labels(code=code).inc()
    with contextlib.suppress(*GONE):
        await ws.send_text(p.Error(code=code, message=message).json_text())
    await close(ws, close_code)


async def serve(ws: WebSocket, services: Services, *, listen: bool) -> None:
    """Accept a socket, unless its token or origin is refused (error, close 1008), its
    address has TUTOR_MAX_SOCKETS_PER_ADDRESS open already (too_many_sockets, 1013) or
    the server is at its session limit (busy, 1013)."""
    await ws.accept()
    try:
        services.access.check(ws)
    except TutorError as exc:
        await refuse(ws, exc.code, exc.message, 1008)
        return
    settings = services.settings
    active: dict[str, int] = ws.app.state.active_sessions
    per_address: dict[str, int] = ws.app.state.sockets_by_address
    address = client_key(ws)
    if per_address.get(address, 0) >= settings.max_sockets_per_address:
        await refuse(
            ws,
            "too_many_sockets",
            f"this address has {settings.max_sockets_per_address} sockets open already; "
            "close one, or try again shortly",
            1013,
        )
        return
    if sum(active.values()) >= settings.max_sessions:
        await refuse(ws, "busy", "the tutor is at its session limit; try again shortly", 1013)
        return
    channel = "voice" if listen else "chat"
    active[channel] = active.get(channel, 0) + 1
    per_address[address] = per_address.get(address, 0) + 1
    SESSIONS.labels(channel=channel).inc()
    try:
        await Conversation(ws, services, listen=listen).run()
    finally:
        active[channel] -= 1
        per_address[address] -= 1
        if not per_address[address]:
            del per_address[address]
        SESSIONS.labels(channel=channel).dec()
        await close(ws, 1000)
