// The learner's own panel: progress per article (what is mastered, what is due, what is
// new, from GET /api/learners/{id}/progress), one "Continue" action that follows the
// server's `next` (a lesson segment, or the review), the review of due quiz items, the
// display name and speaking speed (PUT /api/learners/{id}), and "Download my data".
//
// The review asks each due item through the quiz on the socket (quiz.ask {lesson_id,
// question}); the learner answers by voice or typing, quiz.result shows the grade, the
// feedback and the quoted passage; then the next due item, until none is due (GET
// /review is asked again after every answer, so a missed item that comes back later does
// not keep the review going). Everything shown from the server is set as text.

import { learnerFetch, learnerId, loadProfile, saveProfile } from "./learner.js";
import * as P from "./protocol.js";
import { $, el, notify } from "./views.js";

const GRADE = { right: "Right", partly: "Partly right", not_yet: "Not yet" };

/** "in 40 s", "in 5 min", "in 3 h", "in 2 days" (seconds from now; <= 0: "now"). */
export function inTime(seconds) {
  const s = Math.round(seconds);
  if (s <= 0) return "now";
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} days`;
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** One key point's status for the learner: [key, label]. Due beats everything. */
export function pointStatus(point, now) {
  const later = point.due != null ? ` · review ${inTime(point.due - now)}` : "";
  if (point.due != null && point.due <= now) return ["due", "Due for review"];
  if (point.mastery === "mastered") return ["mastered", `Mastered${later}`];
  if (point.mastery === "familiar") return ["familiar", `Right once${later}`];
  if (point.mastery === "learning") return ["learning", `Learning${later}`];
  return {
    new: ["new", "New"],
    heard: ["heard", "Heard in a lesson"],
    asked: ["asked", "Asked about"],
  }[point.state] ?? ["quizzed", "Quizzed"];
}

export class Progress {
  /** onContinueLesson(lessonId, segment): open and play that lesson at that segment. */
  constructor({ conn, log, stats, player, talk, lessons, onContinueLesson }) {
    Object.assign(this, { conn, log, stats, player, talk, lessons, onContinueLesson });
    this.loads = 0; // counts refresh() calls: a late answer must not undo a newer one
    this.next = null;
    this.current = null; // the review item asked and not answered yet
    this.reviewing = false;
    stats.learning = {
      learnerId: learnerId(), progressLoads: 0, speedSaved: null, nameSaved: null,
      review: { active: false, left: null, asked: 0, results: 0 }, downloads: 0,
    };
    this._bind();
  }

  get visible() {
    return !$("progress").hidden;
  }

  _bind() {
    $("continue").addEventListener("click", () => this.continue());
    $("review-start").addEventListener("click", () => this.startReview());
    $("review-next").addEventListener("click", () => this._askNext());
    $("review-stop").addEventListener("click", () => this.stopReview());
    $("review-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("review-answer");
      const answer = input.value.trim();
      if (!answer || !this.current) return;
      this.log.asked(answer, "Your answer");
      this.conn.send(P.text(answer, true));
      input.value = "";
    });
    $("review-voice").addEventListener("click", async () => {
      this.player.unlock(this.stats.outputRate);
      if (!this.talk.mic.active && !(await this.talk.start())) {
        $("review-answer").focus(); // no microphone: type it
        return;
      }
      $("review-left").textContent = "Say your answer now.";
    });
    $("name-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this._save({ display_name: $("learner-name").value.trim() || null }, "name");
    });
    $("speed").addEventListener("change", () => {
      this._save({ speed: Number($("speed").value) }, "speed");
    });
    // The learner's secret (and the access token) travel in headers, which a plain link
    // cannot send: the click fetches the file.
    $("export").addEventListener("click", (e) => this._download(e));
  }

  // --- progress -----------------------------------------------------------------------

  async _get(tail) {
    try {
      const res = await learnerFetch(tail);
      return res?.ok ? await res.json() : null;
    } catch {
      return null;
    }
  }

  /** Shown (or asked again): the profile, the progress and what is due. */
  async show() {
    this.refresh();
    const profile = await loadProfile();
    if (profile) this._showProfile(profile);
  }

  /** Something the learner did may have changed the progress (or, saying "slower" or
   * "faster", the speed): redraw if it is shown. A name being typed is left alone. */
  async onActivity() {
    if (!this.visible) return;
    this.refresh();
    const profile = await loadProfile();
    if (profile) this._showProfile(profile, false);
  }

  async refresh() {
    const load = ++this.loads;
    const [body, due] = await Promise.all([this._get("/progress"), this._get("/review")]);
    if (load !== this.loads) return; // a newer refresh is under way
    if (!body) {
      // The learner is made by the socket's first hello: before it, there is nothing yet.
      $("continue-what").textContent = "Your progress appears here once you have started.";
      $("continue").disabled = true;
      return;
    }
    this.stats.learning.progressLoads += 1;
    this._render(body, due);
  }

  _render(body, due) {
    const now = body.now;
    this.next = body.next ?? null;
    const articles = body.articles ?? [];
    $("progress-articles").replaceChildren(...articles.map((a) => this._article(a, now)));
    if (!articles.length) {
      $("progress-articles").append(el("p", { class: "hint" }, "No articles yet."));
    }
    const dueCount = due?.items?.length ?? 0;
    $("review-start").textContent = dueCount ? `Review (${dueCount} due)` : "Review";
    $("review-start").dataset.due = String(dueCount);
    $("continue").disabled = !this.next;
    $("continue-what").textContent = this._describeNext(this.next, articles, due);
  }

  _article(a, now) {
    const points = a.points ?? [];
    const c = a.counts ?? {};
    const id = `progress-article-${a.article_id}`;
    const summary = points.length
      ? `${c.mastered ?? 0} mastered · ${c.due ?? 0} due · ${c.new ?? 0} new · `
        + `${plural(points.length, "key point")}`
      : "No key points yet: its lesson is still being prepared.";
    return el("section", { class: "progress-article", "aria-labelledby": id,
                           "data-article": a.article_id },
      el("h3", { id }, a.title),
      el("p", { class: "counts" }, summary),
      points.length ? el("ul", { class: "points" }, ...points.map((p) => {
        const [key, label] = pointStatus(p, now);
        return el("li", { class: "point", "data-status": key, "data-state": p.state },
          el("span", { class: "badge status" }, label), " ",
          el("span", { class: "point-text" }, p.text));
      })) : null);
  }

  _describeNext(next, articles, due) {
    if (!next) {
      const later = due?.next_due ? ` The next review is ${inTime(due.next_due - due.now)}.` : "";
      return `You have met every key point and nothing is due now.${later}`;
    }
    if (next.kind === "review") return `Next: review “${next.text ?? "a quiz question"}”.`;
    const article = articles.find((a) => (a.points ?? [])
      .some((p) => p.lesson_id === next.lesson_id && p.segment === next.segment));
    const where = article ? `“${article.title}”, ` : "";
    return `Next: the lesson ${where}part ${next.segment + 1}.`;
  }

  /** Follows `next`: a lesson segment (opened and played) or the review. */
  continue() {
    const next = this.next;
    if (!next) return;
    if (next.kind === "review") this.startReview();
    else this.onContinueLesson(next.lesson_id, next.segment ?? 0);
  }

  // --- review -------------------------------------------------------------------------

  startReview() {
    this.reviewing = true;
    this.stats.learning.review.active = true;
    this.player.unlock(this.stats.outputRate);
    if (this.lessons.lesson && !this.lessons.audio.paused) this.lessons.toggle(); // pause it
    $("review").hidden = false;
    $("review-result").replaceChildren();
    $("review-question").textContent = "";
    this._askNext();
  }

  stopReview(message = "") {
    this.reviewing = false;
    this.current = null;
    this.stats.learning.review.active = false;
    $("review-form").hidden = true;
    $("review-next").hidden = true;
    if (message) {
      $("review-left").textContent = message;
    } else {
      $("review").hidden = true;
      $("review-start").focus();
    }
    this.refresh();
  }

  _left(n) {
    this.stats.learning.review.left = n;
    $("review-left").textContent = n ? `${plural(n, "question")} left to review.` : "";
  }

  /** Asks the first item due now, or ends the review when none is. */
  async _askNext() {
    $("review-next").hidden = true;
    const due = await this._get("/review");
    if (!this.reviewing) return;
    if (!due) {
      this.stopReview("The review could not be loaded. Try again in a moment.");
      return;
    }
    const items = due.items ?? [];
    this._left(items.length);
    if (!items.length) {
      const later = due.next_due ? ` The next one is due ${inTime(due.next_due - due.now)}.` : "";
      this.stopReview(`Nothing is due for review now.${later}`);
      return;
    }
    const item = items[0];
    this.current = item;
    this.answered = false;
    $("review-question").textContent = item.text ?? "";
    $("review-result").replaceChildren();
    $("review-form").hidden = true;
    this._options([]);
    this.stats.learning.review.asked += 1;
    this.conn.send(P.quizAsk(item.lesson_id, item.question));
  }

  /** quiz.question / quiz.result: true when it belongs to the review (else the lesson's). */
  onQuiz(msg) {
    const item = this.current;
    if (!this.reviewing || !item || msg.lesson_id !== item.lesson_id
        || msg.question !== item.question) {
      return false;
    }
    if (msg.type === P.S.QUIZ_QUESTION) {
      $("review-question").textContent = msg.text;
      $("review-form").hidden = false;
      this._options(msg.options ?? []);
      this.log.reply(msg.turn_id, `Review: ${msg.text}`, "quiz-turn");
      $("review-answer").focus();
      return true;
    }
    this.current = null;
    this.stats.learning.review.results += 1;
    const box = $("review-result");
    box.dataset.grade = msg.grade;
    box.replaceChildren(
      el("p", { class: "grade" }, GRADE[msg.grade] ?? msg.grade),
      el("p", {}, msg.feedback ?? ""),
      msg.quote ? el("blockquote", {}, msg.quote) : null);
    $("review-form").hidden = true;
    for (const button of $("review-options").querySelectorAll("button")) button.disabled = true;
    this.log.reply(msg.turn_id, msg.feedback || (GRADE[msg.grade] ?? msg.grade), "quiz-turn");
    this._afterAnswer();
    return true;
  }

  /** Multiple-choice options, when the quiz question has them: one is sent as the answer
   * (a typed or spoken answer is graded too). */
  _options(options) {
    const box = $("review-options");
    box.hidden = !options.length;
    box.replaceChildren(...options.map((option) => el("button", {
      type: "button", class: "quiz-option", "aria-pressed": "false",
      onclick: (e) => {
        for (const b of box.querySelectorAll("button")) {
          b.disabled = true;
          b.setAttribute("aria-pressed", String(b === e.currentTarget));
        }
        this.log.asked(option, "Your answer");
        this.conn.send(P.text(option, true));
      },
    }, option)));
  }

  /** After a graded answer: how many are still due, and a button to the next. */
  async _afterAnswer() {
    const due = await this._get("/review");
    if (!this.reviewing) return;
    const left = due?.items?.length ?? 0;
    this._left(left);
    this.refresh();
    if (left) {
      $("review-next").hidden = false;
      $("review-next").focus();
    } else {
      this.reviewing = false;
      this.stats.learning.review.active = false;
      $("review-left").textContent = "Review done: nothing else is due now.";
    }
  }

  /** An error from the socket: a review question that could not be asked ends it. */
  onError(code) {
    if (this.reviewing && this.current && $("review-form").hidden && code !== P.ERR.BUSY) {
      this.stopReview("That question could not be asked right now. Try the review again later.");
    }
  }

  // --- profile ------------------------------------------------------------------------

  _showProfile(profile, withName = true) {
    const name = $("learner-name");
    if (withName && document.activeElement !== name) name.value = profile.display_name ?? "";
    const select = $("speed");
    const value = String(Number(profile.speed ?? 1));
    if (![...select.options].some((o) => o.value === value)) {
      select.append(el("option", { value }, `${value}×`)); // set elsewhere (the API)
    }
    select.value = value;
  }

  async _save(changes, what) {
    const status = $("profile-status");
    try {
      const saved = await saveProfile(changes);
      this._showProfile(saved);
      if (what === "speed") {
        this.stats.learning.speedSaved = saved.speed;
        status.textContent = `Speaking speed saved: ${saved.speed}×. New replies use it.`;
      } else {
        this.stats.learning.nameSaved = saved.display_name;
        status.textContent = saved.display_name ? `Saved. Hello, ${saved.display_name}!`
          : "Name cleared.";
      }
      if (saved.notice) notify(saved.notice); // the server has something to say about it
    } catch (err) {
      status.textContent = `Not saved: ${err.message}`;
    }
  }

  async _download(event) {
    // The learner's secret and the access token travel in headers, which a plain link
    // cannot send: fetch it and hand the browser the file.
    event.preventDefault();
    const status = $("profile-status");
    status.textContent = "Preparing your data…";
    let res;
    try {
      res = await learnerFetch("/export?format=md");
    } catch {
      status.textContent = "The tutor could not be reached. Try again in a moment.";
      return;
    }
    if (!res?.ok) {
      status.textContent = !res || res.status === 404 ? "Nothing is stored about you yet."
        : `Your data could not be downloaded (HTTP ${res.status}).`;
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const link = el("a", { href: url, download: "voice-tutor-my-data.md", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    this.stats.learning.downloads += 1;
    status.textContent = "Your data was downloaded (Markdown).";
  }
}
