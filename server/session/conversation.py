"""One websocket session, for both /ws/voice (listens and speaks) and /ws/chat (typed
questions; speaks on request): the socket loop, and what each message and listening
event means. Admission is `server.session.admission`; replies (answers, quiz lines, barge-in,
what was heard) are `server.session.reply.Replies`.

    hello ─▶ ready
    PCM frames ─▶ Listener ─▶ speech.started / transcript.partial / speech.stopped
                           ─▶ transcript.final ─▶ reply
    text ─▶ reply
    reply: answer.delta ... (verified sentences) ─▶ Speaker (Piper) ─▶ audio frames
           answer.done (after the turn is committed) ─▶ audio.end ─▶ turn.metrics

Barge-in: speech from the learner (or `interrupt`) while a reply runs or its audio may
still be playing cancels the LLM and the TTS at once, sends `interrupted`, and keeps in
the history only what the learner heard. A failed turn sends `error` and the session
goes on; nothing a client sends ends it except closing the socket, or doing nothing but
ping for TUTOR_IDLE_TIMEOUT_S (`idle_timeout`; see server/session/admission.py, which may also
end an idle session for a newcomer: `evicted`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from starlette.websockets import WebSocket

from server.core import protocol as p
from server.core.errors import TutorError
from server.core.metrics import ERRORS
from server.listen.capture import AudioInput
from server.listen.echo import EchoReference
from server.listen.end_of_turn import TurnSettings
from server.listen.events import (
    Early,
    Heard,
    ListenError,
    ListenEvent,
    Partial,
    SpeechStarted,
    SpeechStopped,
)
from server.listen.segment import VadSettings
from server.listen.transcribe import Listener
from server.listen.vocabulary import whisper_prompt
from server.session.access import client_key
from server.session.admission import GONE, Slot, close
from server.session.quiz import QuizSession
from server.session.reply import Replies
from server.session.services import Services
from server.teach import length_scale, record_heard

log = logging.getLogger(__name__)


class Conversation:
    def __init__(
        self,
        ws: WebSocket,
        services: Services,
        *,
        listen: bool,
        talkers: Callable[[], int] = lambda: 1,
        slot: Slot | None = None,
    ) -> None:
        self.ws = ws
        # When the learner last did something, and whether the session was evicted.
        self.slot = slot or Slot("voice" if listen else "chat", client_key(ws))
        self.services = services
        self.settings = services.settings
        self.listen = listen
        self.speak_default = listen
        self.talkers = talkers
        self.listener: Listener | None = None
        self.lesson: p.LessonContext | None = None
        self.replies = Replies(
            self,
            services,
            channel="voice" if listen else "chat",
            prefer_article=self._prefer_article,
        )
        self.quiz = QuizSession(services, self.replies)
        self._send_lock = asyncio.Lock()
        self.echo = EchoReference()  # the reply audio sent, for the echo check
        self._closed = False

    # --- sending ----------------------------------------------------------------------

    async def send(self, event: p.ServerEvent) -> None:
        text = event.json_text()
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
            self.slot.touch()
            store = self.services.store
            learner = store.open_learner(
                hello.learner_id, hello.learner_secret, create=hello.new_learner
            )
            learner_id = learner.id if learner is not None else None
            grant = store.open_session(hello.session_id, hello.session_secret, learner_id)
            self.replies.session_id = grant.id
            self.replies.learner_id = learner_id
            self.replies.length_scale = length_scale(store, learner_id)
            self.speak_default = self.listen if hello.speak is None else hello.speak
            if self.listen:
                self.listener = self._listener(hello.sample_rate)
            notices = [
                p.resume_notice(hello.session_id, grant.resumed),
                p.learner_notice(hello.learner_id, learner_id),
            ]
            await self.send(
                p.Ready(
                    session_id=grant.id,
                    session_secret=grant.secret,
                    resumed=grant.resumed,
                    notice=" ".join(n for n in notices if n) or None,
                    input_rate=hello.sample_rate,
                    output_rate=self.services.engines.synthesizer.sample_rate,
                    host=self.settings.host_label,
                    learner_id=learner_id,
                    learner_secret=learner.secret if learner is not None else None,
                )
            )
            await self._serve()
        except GONE:
            pass
        finally:
            self._closed = True
            await self.replies.close()
            if self.listener:
                self.listener.close()
                self.services.listeners.discard(self.listener)  # no longer speaking

    async def _serve(self) -> None:
        """Messages until the client leaves, its learner has done nothing but ping for
        TUTOR_IDLE_TIMEOUT_S (`idle_timeout`), or admission evicts this idle session
        for a newcomer (`evicted`)."""
        evicted = asyncio.ensure_future(self.slot.evicted.wait())
        receiving: asyncio.Future[dict[str, Any]] | None = None
        try:
            while True:
                if receiving is None:
                    receiving = asyncio.ensure_future(self.ws.receive())
                left = self.settings.idle_timeout_s - self.slot.idle_s()
                done = set()
                if left > 0:
                    done, _ = await asyncio.wait(
                        {receiving, evicted}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                    )
                if receiving in done:
                    message, receiving = receiving.result(), None
                    if message["type"] == "websocket.disconnect":
                        return
                    await self._dispatch(message)
                elif evicted in done:
                    await self.error(
                        "evicted",
                        "closing this idle session: the tutor is full and another learner is "
                        "waiting; say something to come back",
                    )
                    await self._end()
                    return
                elif self.slot.idle_s() >= self.settings.idle_timeout_s:
                    await self.error("idle_timeout", "closing an idle session")
                    await self._end()
                    return
        finally:
            for pending in (receiving, evicted):
                if pending is not None and not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *GONE):
                        await pending

    async def _end(self) -> None:
        """Stop replying, and close (after the error that says why)."""
        self._closed = True
        await self.replies.close()
        await close(self.ws, 1000)

    def _listener(self, sample_rate: int) -> Listener:
        settings, services = self.settings, self.services
        smart = services.turn_model is not None
        listener = Listener(
            services.engines.stt,
            AudioInput(sample_rate, settings.max_message_bytes),
            VadSettings(
                # With the smart detector the timer is only the longest wait.
                silence_ms=settings.turn_long_ms if smart else settings.vad_silence_ms,
                max_ms=settings.max_utterance_ms,
            ),
            lambda: whisper_prompt(services.index.vocabulary()),
            self._on_listen_event,
            partial_ms=settings.partial_interval_ms,
            talkers=self.talkers,
            strange=lambda text: services.index.lexicon.strange_words(text),
            turn=TurnSettings(
                "smart" if smart else "silence", settings.turn_short_ms, settings.turn_long_ms
            ),
            turn_model=services.turn_model,
            echo=self.echo,
            replying=self.replies.may_hear_itself,
        )
        services.listeners.add(listener)  # who is speaking: the voice waits for quiet
        return listener

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
                self.slot.touch()  # the microphone: the learner is there
                if self.listener is None:
                    raise TutorError(
                        "this socket takes text questions, not audio; use /ws/voice for speech",
                        "audio_not_accepted",
                    )
                await self.listener.feed(data)
            elif text is not None:
                message = p.parse_client(text)
                if not isinstance(message, p.Ping):  # a ping keeps a socket, not a learner
                    self.slot.touch()
                await self._on_message(message)
        except TutorError as exc:
            await self.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a bug must not end the session
            log.exception("error handling a message")
            await self.error("internal", "something went wrong handling that message")

    def _check_size(self, message: dict[str, Any]) -> None:
        """Our message limit, in bytes as sent (UTF-8 for text). The transport refuses
        what is far past it (see server.web.app.TooLargeFirst); this refuses the rest."""
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
            await self.ask(msg.text, speak=speak)
        elif isinstance(msg, p.Interrupt):
            await self.replies.interrupt()
        elif isinstance(msg, p.Playback):
            self.replies.playback(msg)
        elif isinstance(msg, p.LessonContext):
            self.lesson = msg if msg.lesson_id is not None else None
            if msg.lesson_id is not None:  # the learner is hearing this part of the lesson
                record_heard(
                    self.services.store, self.replies.learner_id, msg.lesson_id, msg.segment
                )
        elif isinstance(msg, p.QuizAsk):
            await self.quiz.ask(msg, speak=self.speak_default)
        elif isinstance(msg, p.Ping):
            await self.send(p.Pong())
        elif isinstance(msg, p.Hello):
            await self.error("bad_message", "hello was already received")

    # --- listening --------------------------------------------------------------------

    async def _on_listen_event(self, event: ListenEvent) -> None:
        """Listener events; some arrive from its own tasks, so errors are sent here."""
        try:
            await self._listen_event(event)
        except TutorError as exc:
            await self.error(exc.code, exc.message)
        except Exception:  # noqa: BLE001 - a failed turn never ends the session
            log.exception("error handling %s", event)
            await self.error("internal", "something went wrong while listening")

    async def _listen_event(self, event: ListenEvent) -> None:
        if isinstance(event, SpeechStarted):
            await self.replies.drop_speculative()  # the learner wasn't done: nothing heard
            await self.replies.interrupt()  # a barge-in, if a reply runs or plays
            await self.send(p.SpeechStarted())
        elif isinstance(event, Early):
            if self.quiz.pending is None:  # a quiz answer is graded, never guessed at
                await self.replies.speculate(event.text, speak=self.speak_default)
        elif isinstance(event, SpeechStopped):
            await self.send(p.SpeechStopped())
        elif isinstance(event, Partial):
            await self.send(p.TranscriptPartial(text=event.text))
        elif isinstance(event, ListenError):
            await self.error(event.code, event.message)
        elif isinstance(event, Heard):
            heard = event
            if not heard.text.strip():
                await self.error("no_speech", "I didn't catch any words; please say that again")
                return
            if heard.forced:
                await self.error(
                    "too_long",
                    "that was long: I stopped listening after "
                    f"{self.settings.max_utterance_ms // 1000} s and will answer",
                )
            admit = lambda: self.services.access.allow_question(client_key(self.ws))  # noqa: E731
            if not await self.replies.release(heard, admit):
                # Spoken replies as the hello asked (`speak: false`: text only).
                await self.ask(heard.text, speak=self.speak_default, heard=heard)

    # --- questions ----------------------------------------------------------------------

    async def ask(self, question: str, *, speak: bool, heard: Heard | None = None) -> None:
        """A question (typed, or the learner's finished utterance). While a quiz question
        is pending, it is the learner's answer to it. Zero-width characters are not read:
        a question of nothing else is empty."""
        question = p.visible(question)
        if not question.strip():
            raise TutorError("the question is empty", code="empty_question")
        self.services.access.allow_question(client_key(self.ws))
        if self.quiz.pending is not None:
            await self.quiz.answer(question, speak=speak, spoken=heard is not None)
            return
        await self.replies.answer(question, speak=speak, heard=heard)

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


async def serve(ws: WebSocket, services: Services, *, listen: bool) -> None:
    """One socket, from accept to close: admitted (or refused, and told why) by the app's
    `Admission`, then the session loop."""
    admission = ws.app.state.admission
    channel = "voice" if listen else "chat"
    async with admission.admit(ws, services, channel) as slot:
        if slot is not None:
            talkers = lambda: admission.talkers("voice") or 1  # noqa: E731
            await Conversation(ws, services, listen=listen, talkers=talkers, slot=slot).run()
