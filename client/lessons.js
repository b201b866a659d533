// Lessons: the list, and a player for one lesson's narrated segments (an <audio>
// element per segment; the server supports Range requests, so seeking works).
// While a lesson plays the socket carries lesson.context, so questions are answered
// from the lesson's article. Asking (typed, or by voice: the learner simply speaks)
// pauses the lesson; once the answer has been shown and spoken it resumes where it was.
// The quiz asks a question by voice (quiz.ask); the learner answers by voice or text,
// or picks one of its multiple-choice options (sent as the answer's text).
// With an access token set, segment audio URLs are signed and expire
// (`audio_url_expires_in`): the lesson is fetched again for fresh ones before they do,
// and once more when the server refuses one anyway (it restarted, or the page slept).

import { api } from "./access.js";
import * as P from "./protocol.js";
import { $, el, renderSources } from "./views.js";

const GRADE = { right: "Right", partly: "Partly right", not_yet: "Not yet" };

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

export class Lessons {
  constructor({ conn, log, stats, player, talk }) {
    Object.assign(this, { conn, log, stats, player, talk });
    this.lesson = null;
    this.segment = 0;
    this.fetchedAt = 0; // when this.lesson (and its signed audio URLs) came
    this.shown = 0; // counts show() calls: a late refresh must not undo a newer one
    this.retried = false; // refetched after a refused audio URL; a second refusal shows
    this.wantsPlay = false;
    this.asking = false; // paused for a question; resume when it is answered
    this.resumeAfter = false;
    this.answered = false;
    this.audio = $("lesson-audio");
    stats.lesson = { state: "idle", segment: 0, resumes: 0 };
    this._bind();
  }

  _bind() {
    const a = this.audio;
    a.addEventListener("timeupdate", () => this._progress());
    a.addEventListener("ended", () => this._next(true));
    a.addEventListener("play", () => this._state("playing"));
    a.addEventListener("pause", () => { if (!a.ended) this._state(this.asking ? "asking" : "paused"); });
    a.addEventListener("error", () => this._audioFailed());
    a.addEventListener("loadedmetadata", () => {
      this.retried = false;
      // Narration not rendered when the lesson was fetched has no duration_s yet.
      const seg = this.lesson?.segments[this.segment];
      if (seg && !seg.duration_s && Number.isFinite(a.duration)) {
        seg.duration_s = a.duration;
        this._total();
      }
    });
    $("lesson-play").addEventListener("click", () => this.toggle());
    $("seg-prev").addEventListener("click", () => this.show(this.segment - 1, true));
    $("seg-next").addEventListener("click", () => this._next(false));
    $("lesson-back").addEventListener("click", () => this.close());
    $("lesson-ask").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("lesson-question");
      const question = input.value.trim();
      if (!question) return;
      this.askQuestion(question);
      input.value = "";
    });
    $("lesson-ask-voice").addEventListener("click", async () => {
      this._pauseToAsk();
      this.player.unlock(this.stats.outputRate);
      if (!this.talk.mic.active && !(await this.talk.start())) {
        this.asking = false; // no microphone: stay paused and offer the text box
        this._state("paused");
        $("lesson-question").focus();
        return;
      }
      $("listen-state").textContent = "Ask your question now.";
    });
    $("quiz-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("quiz-answer");
      if (!input.value.trim()) return;
      this.log.asked(input.value.trim(), "Your answer");
      this.conn.send(P.text(input.value.trim(), true));
      input.value = "";
    });
  }

  async load() {
    const list = $("lesson-list");
    let lessons;
    try {
      const res = await api("/api/lessons");
      if (!res.ok) throw new Error(String(res.status));
      lessons = await res.json();
    } catch {
      $("lessons-empty").textContent = "Lessons are not available on this tutor yet.";
      return;
    }
    $("lessons-empty").textContent = lessons.length ? "" : "No lessons yet.";
    $("lessons-empty").hidden = lessons.length > 0;
    // A lesson not built yet is listed with its state and cannot be opened; one being
    // rebuilt keeps playing its stored version.
    const ready = (l) => l.segment_count > 0;
    list.replaceChildren(...lessons.map((l) => el("li", {},
      el("button", { type: "button", class: "lesson", disabled: !ready(l),
                     onclick: () => this.open(l.id) },
        el("span", { class: "title" }, l.title),
        el("span", { class: "meta" },
          (ready(l)
            ? [`${l.segment_count} parts`, l.duration_s ? clock(l.duration_s) : null]
            : [l.state === "failed" ? "could not be built" : `${l.state}…`])
        .filter(Boolean).join(" · "))))));
    // Lessons still being built: look again in a few seconds until they are ready.
    clearTimeout(this._reload);
    if (lessons.some((l) => !ready(l) && l.state !== "failed")) {
      this._reload = setTimeout(() => this.load(), 3000);
    }
  }

  /** Lesson `id` as the server has it now (null if it cannot be had). */
  async _fetch(id) {
    const res = await api(`/api/lessons/${encodeURIComponent(id)}`);
    if (!res.ok) return null;
    const lesson = await res.json();
    this.fetchedAt = performance.now();
    return lesson;
  }

  /** Signed audio URLs are about to expire (or were refused): fetch fresh ones. */
  async _refresh(force = false) {
    const ttl = this.lesson?.audio_url_expires_in;
    if (!ttl || (!force && performance.now() - this.fetchedAt < (ttl - 60) * 1000)) return;
    const id = this.lesson.id;
    const fresh = await this._fetch(id);
    if (fresh && this.lesson?.id === id) {
      this.lesson = fresh;
      this._total();
    }
  }

  async _audioFailed() {
    if (!this.lesson?.audio_url_expires_in || this.retried) {
      this._state("error");
      return;
    }
    this.retried = true;
    const shown = this.shown;
    await this._refresh(true);
    if (shown === this.shown) this.show(this.segment, this.wantsPlay);
  }

  /** Opens lesson `id` at `segment` (the progress view's "Continue" plays it). */
  async open(id, segment = 0, play = false) {
    const lesson = await this._fetch(id);
    if (!lesson) return;
    this.lesson = lesson;
    this._total();
    $("lesson-title").textContent = this.lesson.title;
    $("lesson-list").hidden = true;
    $("player").hidden = false;
    this._renderQuiz();
    this.show(segment, play);
    $("lesson-play").focus();
  }

  /** A typed question (the box, or a suggestion): the lesson pauses and resumes after. */
  askQuestion(question) {
    this._pauseToAsk();
    this.log.asked(question);
    this.conn.send(P.text(question, true));
  }

  close() {
    this.wantsPlay = false;
    this.audio.pause();
    this.lesson = null;
    this.asking = false;
    this.conn.send(P.lessonContext(null));
    $("player").hidden = true;
    $("lesson-list").hidden = false;
    this._state("idle");
  }

  /** Shows segment `index`; starts it playing when `play`. */
  async show(index, play) {
    const segs = this.lesson?.segments ?? [];
    if (!segs.length) return;
    this.segment = Math.max(0, Math.min(index, segs.length - 1));
    const seg = segs[this.segment];
    $("seg-kind").textContent = seg.kind;
    $("seg-pos").textContent = `Part ${this.segment + 1} of ${segs.length}`;
    $("seg-text").textContent = seg.text;
    $("seg-sources").replaceChildren(renderSources(seg.sources) ?? "");
    $("seg-prev").disabled = this.segment === 0;
    $("seg-next").disabled = this.segment === segs.length - 1;
    this.stats.lesson.segment = this.segment;
    this.conn.send(P.lessonContext(this.lesson.id, this.segment));
    const shown = ++this.shown;
    await this._refresh();
    const current = this.lesson?.segments[this.segment];
    if (shown !== this.shown || !current) return; // another segment was asked for since
    this.audio.src = current.audio_url;
    this._progress();
    if (play) this.play();
  }

  play() {
    this.wantsPlay = true;
    this.asking = false;
    this.player.unlock(this.stats.outputRate);
    this.audio.play().catch(() => this._state("error"));
  }

  toggle() {
    if (this.audio.paused) {
      this.play();
    } else {
      this.wantsPlay = false;
      this.audio.pause();
    }
  }

  _next(auto) {
    const last = this.segment >= (this.lesson?.segments.length ?? 1) - 1;
    if (last && auto) {
      this._state("finished");
      $("quiz").hidden = !this.lesson.quiz?.length;
      return;
    }
    this.show(this.segment + 1, auto || !this.audio.paused);
  }

  _state(state) {
    this.stats.lesson.state = state;
    $("lesson-play").textContent = state === "playing" ? "Pause" : "Play";
    $("lesson-play").setAttribute("aria-label", state === "playing" ? "Pause lesson" : "Play lesson");
  }

  _total() {
    this.total = this.lesson.segments.reduce((s, g) => s + (g.duration_s || 0), 0) || 1;
    this._progress();
  }

  _progress() {
    if (!this.lesson) return;
    const before = this.lesson.segments.slice(0, this.segment)
      .reduce((s, g) => s + (g.duration_s || 0), 0);
    const done = Math.min(this.total, before + (this.audio.currentTime || 0));
    // Segments not narrated yet have no duration: the total is then a lower bound.
    const more = this.lesson.segments.some((g) => !g.duration_s) ? "+" : "";
    $("lesson-progress").max = this.total;
    $("lesson-progress").value = done;
    $("lesson-time").textContent = `${clock(done)} / ${clock(this.total)}${more}`;
  }

  _pauseToAsk() {
    if (!this.lesson) return;
    this.resumeAfter = this.asking ? this.resumeAfter : !this.audio.paused;
    this.asking = true;
    this.answered = false;
    this.audio.pause();
    this._state("asking");
  }

  // --- from the conversation --------------------------------------------------------

  onLearnerSpeaks() {
    if (this.lesson && !this.audio.paused) this._pauseToAsk();
  }

  /** The server finished a turn (or it failed): resume once the reply has been heard. */
  onTurnEnd() {
    if (!this.asking) return;
    this.answered = true;
    if (!this.stats.playing) this.onReplyIdle();
  }

  onReplyIdle() {
    if (!this.asking || !this.answered) return;
    this.asking = false;
    if (this.resumeAfter && this.lesson) {
      this.stats.lesson.resumes += 1;
      this.play();
    } else {
      this._state("paused");
    }
  }

  // --- quiz -------------------------------------------------------------------------

  _renderQuiz() {
    const quiz = this.lesson.quiz ?? [];
    $("quiz").hidden = !quiz.length;
    $("quiz-result").replaceChildren();
    $("quiz-question").textContent = "";
    $("quiz-options").replaceChildren();
    $("quiz-options").hidden = true;
    $("quiz-form").hidden = true;
    $("quiz-list").replaceChildren(...quiz.map((q) => el("li", {},
      el("span", {}, q.question), " ",
      el("button", { type: "button", onclick: () => this.ask(q.index) }, "Ask me"))));
  }

  // The event's options; the lesson's own list serves a server that doesn't send them.
  _renderOptions(msg) {
    const listed = (this.lesson?.quiz ?? []).find((q) => q.index === msg.question);
    const options = msg.options?.length ? msg.options : (listed?.options ?? []);
    const box = $("quiz-options");
    box.hidden = !options.length;
    box.replaceChildren(...options.map((option) => el("button", {
      type: "button",
      class: "quiz-option",
      "aria-pressed": "false",
      onclick: (e) => this._choose(option, e.currentTarget),
    }, option)));
  }

  _choose(option, button) {
    for (const b of $("quiz-options").querySelectorAll("button")) {
      b.disabled = true;
      b.setAttribute("aria-pressed", String(b === button));
    }
    this.log.asked(option, "Your answer");
    this.conn.send(P.quizAnswer(option));
  }

  ask(index) {
    this.audio.pause();
    this.player.unlock(this.stats.outputRate);
    this.conn.send(P.quizAsk(this.lesson.id, index));
  }

  onQuiz(msg) {
    if (msg.type === P.S.QUIZ_QUESTION) {
      $("quiz-question").textContent = msg.text;
      $("quiz-form").hidden = false;
      $("quiz-result").replaceChildren();
      this.log.reply(msg.turn_id, `Quiz: ${msg.text}`, "quiz-turn");
      this._renderOptions(msg);
      $("quiz-answer").focus();
      return;
    }
    for (const button of $("quiz-options").querySelectorAll("button")) button.disabled = true;
    const s = msg.score ?? {};
    const box = $("quiz-result");
    box.dataset.grade = msg.grade;
    box.replaceChildren(
      el("p", { class: "grade" }, GRADE[msg.grade] ?? msg.grade),
      el("p", {}, msg.feedback ?? ""),
      msg.quote ? el("blockquote", {}, msg.quote) : null,
      el("p", { class: "hint" },
        `Score: ${s.right ?? 0} right, ${s.partly ?? 0} partly, ${s.not_yet ?? 0} not yet`));
    // The graded answer (typed, or heard: transcript.final) shares the result's turn_id.
    this.log.reply(msg.turn_id, msg.feedback || (GRADE[msg.grade] ?? msg.grade), "quiz-turn");
  }
}
