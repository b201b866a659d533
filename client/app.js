// The page: one connection, one reply player, the conversation log, four panels (talk,
// type, lessons, progress) and the articles. Server events are dispatched here; rendering
// lives in log.js, voice controls in talk.js, the lesson player in lessons.js, the
// learner's progress, review and settings in progress.js, the article list, adding and
// removing in articles.js.

import { needToken } from "./access.js";
import { Articles } from "./articles.js";
import { Player } from "./audio.js";
import { Connection } from "./connection.js";
import { Lessons } from "./lessons.js";
import { ConversationLog } from "./log.js";
import { Progress } from "./progress.js";
import * as P from "./protocol.js";
import { Talk } from "./talk.js";
import { $, errorText, notify } from "./views.js";

// Counters for people debugging and for the browser tests (never used for logic).
const stats = {
  playedSamples: 0, receivedSamples: 0, queuedSamples: 0, playing: false,
  framesSent: 0, speechStarted: 0, interrupted: 0, stops: 0, answers: 0, turns: 0,
  turnPlayed: {}, lastStop: null, reports: [], errors: [], events: {}, outputRate: 22050,
};
window.tutorStats = stats;

const log = new ConversationLog($("log"), { onSuggest: (q) => askTyped(q) });
const stopped = new Set(); // turns whose audio the learner no longer wants
const reported = new Set(); // turns whose playback was reported to the server
let audioTurn = null;
let audioRate = 22050;

const conn = new Connection({
  onEvent: onServerEvent,
  onAudio: (buf) => {
    if (audioTurn && !stopped.has(audioTurn)) player.play(audioTurn, audioRate, buf);
  },
  onState: showConnection,
  onBlocked: (code, refused) => {
    if (code === P.ERR.UNAUTHORIZED) {
      // Ask for the token (once, however often this is called); reconnect when accepted.
      needToken(refused).then(() => {
        notify("");
        conn.connect();
      });
    } else {
      notify(code === P.ERR.FORBIDDEN_ORIGIN ? errorText(code)
        : "The tutor refused the connection. Reload the page to try again.", "error");
    }
  },
});

const player = new Player(stats, {
  onDrained: (turn, played) => {
    report(turn, played);
    $("stop").disabled = true;
    lessons.onReplyIdle();
  },
  onStopped: (turn, played) => {
    const target = stats.lastStop?.turn_id ?? turn;
    const heard = turn === target ? played : 0;
    stats.turnPlayed[target] = heard;
    stats.lastStop = { ...stats.lastStop, played_samples: heard };
    report(target, heard);
    lessons.onReplyIdle();
  },
});
const talk = new Talk({
  sendAudio: (buf) => conn.sendAudio(buf), stats,
  // No microphone: offer typing, unless the learner is in a lesson (it has its own box).
  onUnavailable: () => { if (!$("talk").hidden) showPanel("chat"); },
});
const lessons = new Lessons({ conn, log, stats, player, talk });
const articles = new Articles({
  stats,
  // The lessons and progress follow the library: show the new state where it is open.
  onChanged: () => {
    if (!$("lessons").hidden && !lessons.lesson) lessons.load();
    if (progress.visible) progress.refresh();
  },
});
const progress = new Progress({
  conn, log, stats, player, talk, lessons,
  onContinueLesson: (lessonId, segment) => {
    showPanel("lessons");
    lessons.open(lessonId, segment, true);
  },
});

/** A question typed for the learner (a suggestion): in a lesson it pauses the lesson;
 * elsewhere it is spoken in the talk panel, or with "Read answers aloud". */
function askTyped(question) {
  if (!$("lessons").hidden && lessons.lesson) {
    lessons.askQuestion(question);
    return;
  }
  const speak = !$("talk").hidden || $("read-aloud").checked;
  if (speak) player.unlock(stats.outputRate);
  log.asked(question);
  conn.send(P.text(question, speak));
}

function report(turnId, samples) {
  if (!turnId || reported.has(turnId)) return;
  reported.add(turnId);
  const msg = P.playback(turnId, (1000 * samples) / audioRate);
  stats.reports.push(msg);
  conn.send(msg);
}

/** Barge-in: silence the reply now; onStopped then reports how much was heard. */
function stopReply(turnId) {
  const turn = turnId ?? audioTurn;
  if (!turn || stopped.has(turn)) return;
  stopped.add(turn);
  stats.stops += 1;
  stats.lastStop = { turn_id: turn, was_playing: stats.playing };
  player.stop();
  $("stop").disabled = true;
}

function onServerEvent(msg) {
  stats.events[msg.type] = (stats.events[msg.type] ?? 0) + 1;
  switch (msg.type) {
    case P.S.READY:
      stats.outputRate = msg.output_rate;
      stats.learning.learnerId = msg.learner_id ?? stats.learning.learnerId;
      if (msg.notice?.startsWith("session ")) {
        notify("The earlier conversation could not be continued; this is a new one.");
      }
      if (/\blearner \S+ was not recognised/.test(msg.notice ?? "")) {
        notify("This browser's learning record was not found; a new one was started.");
      }
      break;
    case P.S.SPEECH_STARTED:
      stats.speechStarted += 1;
      talk.setSpeaking(true);
      lessons.onLearnerSpeaks();
      break;
    case P.S.SPEECH_STOPPED:
      talk.setSpeaking(false);
      break;
    case P.S.TRANSCRIPT_PARTIAL:
      log.partial(msg.text);
      break;
    case P.S.TRANSCRIPT_FINAL:
      log.heard(msg.text, msg.turn_id);
      break;
    case P.S.ANSWER_DELTA:
      log.delta(msg.turn_id, msg.text);
      break;
    case P.S.ANSWER_DONE:
      stats.answers += 1;
      log.done(msg);
      talk.reset();
      progress.onActivity();
      break;
    case P.S.AUDIO_START:
      audioTurn = msg.turn_id;
      audioRate = msg.sample_rate;
      $("stop").disabled = false;
      break;
    case P.S.AUDIO_END:
      if (!stopped.has(msg.turn_id)) player.end(msg.turn_id);
      break;
    case P.S.INTERRUPTED:
      stats.interrupted += 1;
      stopReply(msg.turn_id);
      log.interrupted(msg.turn_id);
      break;
    case P.S.TURN_METRICS:
      stats.turns += 1;
      talk.reset();
      lessons.onTurnEnd(msg.turn_id);
      break;
    case P.S.QUIZ_QUESTION:
    case P.S.QUIZ_RESULT:
      // A review question (progress.js) or a lesson's quiz.
      if (!progress.onQuiz(msg)) {
        lessons.onQuiz(msg);
        if (msg.type === P.S.QUIZ_RESULT) progress.onActivity();
      }
      break;
    case P.S.ERROR:
      stats.errors.push(msg.code);
      if (msg.code === P.ERR.NO_SPEECH) log.clearPartial();
      notify(errorText(msg.code, msg.message), msg.code === P.ERR.TOO_LONG ? "info" : "error");
      progress.onError(msg.code);
      if (![P.ERR.BUSY, P.ERR.IDLE_TIMEOUT, P.ERR.EVICTED, P.ERR.SILENT_AUDIO]
        .includes(msg.code)) {
        lessons.onTurnEnd(null);
        talk.reset();
      }
      break;
    default:
      break;
  }
}

function showConnection(state, detail = {}) {
  const box = $("conn");
  box.dataset.state = state;
  const seconds = Math.round((detail.delay ?? 0) / 1000);
  box.textContent = {
    connecting: "Connecting…",
    open: "Connected",
    retrying: detail.busy ? `Tutor busy — retrying in ${seconds} s`
      : `Connection lost — reconnecting${seconds ? ` in ${seconds} s` : ""}…`,
    paused: "Paused (idle) — reconnects when you ask",
    blocked: {
      [P.ERR.UNAUTHORIZED]: "Access token needed",
      [P.ERR.FORBIDDEN_ORIGIN]: "Not allowed from this address",
    }[detail.code] ?? "Connection refused",
  }[state] ?? state;
}

function showPanel(name) {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.panel === name));
  }
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== name;
  if (name === "lessons") lessons.load();
  if (name === "progress") progress.show();
  if (name === "chat") $("chat-input").focus();
}

function bindControls() {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => showPanel(tab.dataset.panel));
  }
  $("mic").addEventListener("click", () => player.unlock(stats.outputRate));
  $("stop").addEventListener("click", () => {
    stopReply(audioTurn);
    conn.send(P.interrupt());
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && stats.playing) {
      stopReply(audioTurn);
      conn.send(P.interrupt());
    }
  });
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("chat-input");
    const question = input.value.trim();
    if (!question) return;
    const speak = $("read-aloud").checked;
    if (speak) player.unlock(stats.outputRate);
    log.asked(question);
    conn.send(P.text(question, speak));
    input.value = "";
  });
}

bindControls();
window.tutorDebug = { conn, player, progress }; // for the browser tests and the devtools console
conn.connect();
articles.load();
