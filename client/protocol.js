// Every websocket message, mirroring server/protocol.py (keep the two in step).
// JSON messages carry a `type`; reply audio arrives as binary PCM s16le mono frames
// between `audio.start` and `audio.end`. Lesson and quiz messages follow the lessons
// contract (server/lessons.py).

export const MAX_TEXT_CHARS = 2000;
export const INPUT_RATE = 16000;

// client -> server
export const C = Object.freeze({
  HELLO: "hello",
  TEXT: "text",
  INTERRUPT: "interrupt",
  PLAYBACK: "playback",
  LESSON_CONTEXT: "lesson.context",
  QUIZ_ASK: "quiz.ask",
  PING: "ping",
});

// server -> client
export const S = Object.freeze({
  READY: "ready",
  SPEECH_STARTED: "speech.started",
  SPEECH_STOPPED: "speech.stopped",
  TRANSCRIPT_PARTIAL: "transcript.partial",
  TRANSCRIPT_FINAL: "transcript.final",
  ANSWER_DELTA: "answer.delta",
  ANSWER_DONE: "answer.done",
  AUDIO_START: "audio.start",
  AUDIO_END: "audio.end",
  INTERRUPTED: "interrupted",
  TURN_METRICS: "turn.metrics",
  QUIZ_QUESTION: "quiz.question",
  QUIZ_RESULT: "quiz.result",
  PONG: "pong",
  ERROR: "error",
});

// Error codes the server sends in `error {code, message}`.
export const ERR = Object.freeze({
  BUSY: "busy",
  TOO_LARGE: "too_large",
  TOO_LONG: "too_long",
  NO_SPEECH: "no_speech",
  SILENT_AUDIO: "silent_audio",
  BAD_JSON: "bad_json",
  BAD_MESSAGE: "bad_message",
  UNKNOWN_TYPE: "unknown_type",
  BAD_AUDIO: "bad_audio",
  EMPTY_AUDIO: "empty_audio",
  AUDIO_NOT_ACCEPTED: "audio_not_accepted",
  AUDIO_TOO_FAST: "audio_too_fast",
  UNKNOWN_TURN: "unknown_turn",
  EMPTY_QUESTION: "empty_question",
  INTERNAL: "internal",
  IDLE_TIMEOUT: "idle_timeout",
  EVICTED: "evicted", // an idle session closed for another learner while the tutor is full
  HELLO_TIMEOUT: "hello_timeout",
  TOO_MANY_SOCKETS: "too_many_sockets",
  TURN_FAILED: "turn_failed",
  NOT_READY: "not_ready",
  // a remote speech server (TUTOR_STT_URL / TUTOR_TTS_URL) that is down, slow or failed
  STT_UNREACHABLE: "stt_unreachable",
  STT_TIMEOUT: "stt_timeout",
  STT_FAILED: "stt_failed",
  TTS_UNREACHABLE: "tts_unreachable",
  TTS_TIMEOUT: "tts_timeout",
  TTS_FAILED: "tts_failed",
  // access gates (server/access.py)
  UNAUTHORIZED: "unauthorized",
  FORBIDDEN_ORIGIN: "forbidden_origin",
  RATE_LIMITED: "rate_limited",
});

// Close code the server uses when it is at its session limit (or this address's).
export const CLOSE_BUSY = 1013;
// Close code after `unauthorized` or `forbidden_origin`: retrying as is cannot help.
export const CLOSE_POLICY = 1008;

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SESSION_SECRET = /^[A-Za-z0-9_-]{1,128}$/;
// A learner id is the server's (22 base64url characters), or a UUID a browser made for
// itself before the server issued ids; its secret is 43 base64url characters.
export const LEARNER_ID =
  /^(?:[A-Za-z0-9_-]{22}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
export const LEARNER_SECRET = /^[A-Za-z0-9_-]{43}$/;

/** `session`: {id, secret} from an earlier `ready`, to continue that conversation (the
 * server starts a new one, and says so in `ready.notice`, without the right secret).
 * `learner`: {id, secret} the server issued (learner.js); without them (or when they are
 * not a learner's) the server makes a new learner and `ready` hands over its id and
 * secret (`new_learner`). */
export function hello(sampleRate = INPUT_RATE, session = null, speak = null, learner = null) {
  const msg = { type: C.HELLO, sample_rate: sampleRate };
  if (session && SESSION_ID.test(session.id ?? "") && SESSION_SECRET.test(session.secret ?? "")) {
    msg.session_id = session.id;
    msg.session_secret = session.secret;
  }
  if (speak !== null) msg.speak = speak;
  if (learner !== null) {
    if (LEARNER_ID.test(learner.id ?? "")) msg.learner_id = learner.id;
    if (LEARNER_SECRET.test(learner.secret ?? "")) msg.learner_secret = learner.secret;
    msg.new_learner = true;
  }
  return msg;
}

export function text(question, speak = null) {
  const msg = { type: C.TEXT, text: question.slice(0, MAX_TEXT_CHARS) };
  if (speak !== null) msg.speak = speak;
  return msg;
}

export const interrupt = () => ({ type: C.INTERRUPT });

export const playback = (turnId, playedMs) =>
  ({ type: C.PLAYBACK, turn_id: turnId, played_ms: Math.max(0, Math.round(playedMs)) });

export const lessonContext = (lessonId, segment = 0) =>
  ({ type: C.LESSON_CONTEXT, lesson_id: lessonId, segment: Math.max(0, segment) });

export const quizAsk = (lessonId, question) =>
  ({ type: C.QUIZ_ASK, lesson_id: lessonId, question });

// quiz.question {lesson_id, question, text, turn_id, options, kind}: `options` (maybe
// empty) are multiple-choice answers; the one chosen goes back as the answer, a `text`
// message like a typed one (a typed or spoken answer in other words is graded too).
export const quizAnswer = (option) => text(option, true);

export const ping = () => ({ type: C.PING });
