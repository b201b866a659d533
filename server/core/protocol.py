"""Every websocket message, typed, in one place (the client mirrors this in
client/protocol.js). JSON messages carry a `type`; reply audio travels as binary frames
of PCM s16le mono between `audio.start` and `audio.end`.

Client -> server (JSON): hello, text, interrupt, playback, lesson.context, quiz.ask, ping.
Client -> server (binary, /ws/voice only): microphone PCM s16le mono at the hello rate.
Server -> client: the `ServerEvent` classes below, and binary reply audio.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from server.core.errors import TutorError, shown

MAX_TEXT_CHARS = 2000
MAX_ID = 2**63 - 1  # ids are SQLite integers: past this, a lookup would overflow
# A learner id is the server's own (Store.new_learner: 16 random bytes, base64url, 22
# characters), or the UUID a browser made for itself before the server issued ids (such
# a learner gets its secret at its next hello). Nothing shorter, nothing else.
LEARNER_ID = r"^(?:[A-Za-z0-9_-]{22}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
# The learner's secret (Store.new_learner: 32 random bytes, base64url): ready hands it
# over once; HTTP routes take it in this header, compared with its stored hash.
LEARNER_SECRET = r"^[A-Za-z0-9_-]{43}$"
LEARNER_SECRET_HEADER = "X-Learner-Secret"
SESSION_ID = r"^[A-Za-z0-9_-]{1,64}$"
SESSION_SECRET_HEADER = "X-Session-Secret"  # reads a session's transcript

# Control characters (C0 but tab and newline, DEL, C1) and lone surrogates: never stored
# (Postgres refuses NUL in text) and never meant. Refused as `bad_request` (HTTP 400) or
# `bad_message` (socket), before anything is stored.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Zero-width characters, removed from a question before it is read ("Avo\u200bcado" is
# "Avocado"; a question of nothing else is empty).
ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
CONTROL_ERROR = "control_characters"  # the pydantic error type of a refused character


def no_controls(value: str) -> str:
    if CONTROL.search(value):
        raise PydanticCustomError(
            CONTROL_ERROR, "control characters (other than tab and newline) are not allowed"
        )
    return value


def visible(text: str) -> str:
    """The text without zero-width characters."""
    return ZERO_WIDTH.sub("", text)


PlainText = Annotated[str, AfterValidator(no_controls)]  # what a client may send as text


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- client -> server -----------------------------------------------------------------


class Hello(_Message):
    type: Literal["hello"]
    sample_rate: int = Field(16_000, ge=8_000, le=48_000)
    session_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # The secret `ready` gave for that session: without it a new session starts.
    session_secret: str | None = Field(None, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    speak: bool | None = None  # reply audio; default: yes on /ws/voice, no on /ws/chat
    # Who is learning (server/teach): the learner id and secret an earlier `ready` gave.
    # None: an anonymous session, remembered by no learner's progress.
    learner_id: str | None = Field(None, pattern=LEARNER_ID)
    learner_secret: str | None = Field(None, pattern=LEARNER_SECRET)
    # True: without a learner of one's own (none given, or not these), the server makes
    # one and `ready` hands over its id and secret (the browser's hello says this).
    new_learner: bool = False


class Text(_Message):
    type: Literal["text"]
    text: PlainText = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    speak: bool | None = None  # per-question override of the hello's setting


class Interrupt(_Message):
    type: Literal["interrupt"]


class Playback(_Message):
    type: Literal["playback"]
    turn_id: PlainText = Field(max_length=64)
    played_ms: int = Field(ge=0, le=MAX_ID)


class LessonContext(_Message):
    type: Literal["lesson.context"]
    lesson_id: int | None = Field(None, ge=0, le=MAX_ID)  # None: the learner left the lesson
    segment: int = Field(0, ge=0, le=MAX_ID)


class QuizAsk(_Message):
    """Ask quiz question `question` of a lesson aloud; the learner's next answer (typed or
    spoken) is graded."""

    type: Literal["quiz.ask"]
    lesson_id: int = Field(ge=0, le=MAX_ID)
    question: int = Field(ge=0, le=MAX_ID)


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Hello | Text | Interrupt | Playback | LessonContext | QuizAsk | Ping,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class ProtocolError(TutorError):
    code = "bad_message"


def parse_client(raw: str | bytes) -> ClientMessage:
    """Parse one JSON message from a client, or raise ProtocolError with a clear reason."""
    try:
        return _client_adapter.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ProtocolError("message is not valid JSON", code="bad_json") from None
        if first["type"] in ("union_tag_invalid", "union_tag_not_found", "model_type"):
            raise ProtocolError(
                "unknown message type; expected one of hello, text, interrupt, playback, "
                "lesson.context, quiz.ask, ping",
                code="unknown_type",
            ) from None
        where = shown(".".join(str(p) for p in first["loc"][1:]) or "message")
        raise ProtocolError(f"{where}: {first['msg']}", code="bad_message") from None


# --- server -> client -----------------------------------------------------------------


class ServerEvent(_Message):
    type: str

    def json_text(self) -> str:
        return self.model_dump_json(exclude_none=False)


class Ready(ServerEvent):
    type: Literal["ready"] = "ready"
    session_id: str
    session_secret: str  # keep it, and send it in the next hello to continue this session
    resumed: bool  # false: a new session (the hello's session, if any, was not continued)
    input_rate: int
    output_rate: int
    output_format: Literal["pcm_s16le"] = "pcm_s16le"
    notice: str | None = None  # why the asked-for session was not continued
    # Which tutor host answered (TUTOR_HOST_NAME): behind a load balancer, any host
    # continues any session from the database; this says which one has it now.
    host: str = ""
    # The learner this session belongs to (None: anonymous), and its secret when this
    # hello issued it (a new learner, or one from before secrets): keep both, and send
    # them in every hello; HTTP learner routes take the secret as X-Learner-Secret. The
    # server keeps only a hash: a secret not kept now cannot be had again.
    learner_id: str | None = None
    learner_secret: str | None = None


class SpeechStarted(ServerEvent):
    type: Literal["speech.started"] = "speech.started"


class SpeechStopped(ServerEvent):
    type: Literal["speech.stopped"] = "speech.stopped"


class TranscriptPartial(ServerEvent):
    type: Literal["transcript.partial"] = "transcript.partial"
    text: str


class TranscriptFinal(ServerEvent):
    type: Literal["transcript.final"] = "transcript.final"
    text: str
    turn_id: str


class AnswerDeltaEvent(ServerEvent):
    type: Literal["answer.delta"] = "answer.delta"
    text: str
    turn_id: str


class SourceOut(BaseModel):
    article_id: int
    title: str
    quote: str
    paragraph: int | None = None


class AnswerDone(ServerEvent):
    type: Literal["answer.done"] = "answer.done"
    text: str
    grounded: bool
    sources: list[SourceOut]
    turn_id: str
    session_id: str | None = None
    # 2-3 short questions the articles answer about points not met yet (the client shows
    # them as buttons that ask them); empty after "slower"/"faster" or when none is found.
    suggestions: list[str] = Field(default_factory=list)


class AudioStart(ServerEvent):
    type: Literal["audio.start"] = "audio.start"
    turn_id: str
    sample_rate: int


class AudioEnd(ServerEvent):
    type: Literal["audio.end"] = "audio.end"
    turn_id: str


class Interrupted(ServerEvent):
    type: Literal["interrupted"] = "interrupted"
    turn_id: str


class TurnMetrics(ServerEvent):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["turn.metrics"] = "turn.metrics"
    turn_id: str


class QuizQuestionEvent(ServerEvent):
    type: Literal["quiz.question"] = "quiz.question"
    lesson_id: int
    question: int
    text: str
    turn_id: str
    # Multiple choice: the answer among 2-3 wrong ones of its kind (empty: a free answer
    # only). The client sends the chosen option's text as the answer (`text`); a typed or
    # spoken answer in other words is graded too.
    options: list[str] = Field(default_factory=list)
    kind: str = "cloze"  # date | duration | amount | count | person | company | model |
    # term | reason | cloze (a fill-in-the-blank of the source sentence)


class QuizScore(BaseModel):
    right: int = 0
    partly: int = 0
    not_yet: int = 0


class QuizResult(ServerEvent):
    type: Literal["quiz.result"] = "quiz.result"
    lesson_id: int
    question: int
    grade: Literal["right", "partly", "not_yet"]
    feedback: str
    quote: str
    score: QuizScore
    turn_id: str


class Pong(ServerEvent):
    type: Literal["pong"] = "pong"


class Error(ServerEvent):
    type: Literal["error"] = "error"
    code: str
    message: str


def resume_notice(asked: str | None, resumed: bool) -> str | None:
    """What `ready` (or /api/ask) says when the asked-for session was not continued."""
    if asked is None or resumed:
        return None
    return (
        f"session {asked} was not continued (unknown, without its secret, or another "
        "learner's); this is a new session"
    )


def learner_notice(asked: str | None, granted: str | None) -> str | None:
    """What `ready` says when the learner named in hello is not who the session is for."""
    if asked is None or asked == granted:
        return None
    now = "a new learner's (see learner_id)" if granted else "anonymous"
    return (
        f"learner {asked} was not recognised (unknown, or without its secret); "
        f"this session is {now}"
    )


def metrics_event(turn_id: str, timings: dict[str, Any]) -> TurnMetrics:
    return TurnMetrics(
        turn_id=turn_id,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in timings.items()},
    )
