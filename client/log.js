// The conversation log: the learner's questions (typed, or heard: partial then final)
// and the tutor's answers as they stream, with their sources. The log is an ARIA live
// region, so screen readers announce new transcripts and answers.

import { $, el, renderSources } from "./views.js";

export class ConversationLog {
  /** onSuggest(question): the learner picked one of an answer's suggested follow-ups. */
  constructor(list, { onSuggest = null } = {}) {
    this.list = list;
    this.onSuggest = onSuggest;
    this.turns = new Map(); // turn_id -> {item, answer}
    this.pending = null; // a typed question whose turn_id is not known yet
    this.live = null; // the partial transcript while the learner speaks
  }

  _scroll(node) {
    node.scrollIntoView?.({ block: "nearest" });
  }

  _question(text, how) {
    const item = el("li", { class: "turn" },
      el("p", { class: "question" }, el("span", { class: "who" }, how), text));
    this.list.append(item);
    this._scroll(item);
    return item;
  }

  /** A typed question: its answer is the next turn the server starts. */
  asked(text, label = "You asked") {
    this.pending = { item: this._question(text, label), answer: null };
  }

  /** Live transcript while the learner speaks (replaced by heard()). */
  partial(text) {
    if (!this.live) {
      this.live = el("li", { class: "turn live" },
        el("p", { class: "question partial" }, el("span", { class: "who" }, "Hearing"), ""));
      this.list.append(this.live);
    }
    this.live.querySelector(".question").lastChild.textContent = text;
    $("transcript").textContent = text;
    this._scroll(this.live);
  }

  clearPartial() {
    this.live?.remove();
    this.live = null;
  }

  heard(text, turnId) {
    this.clearPartial();
    $("transcript").textContent = text;
    this.turns.set(turnId, { item: this._question(text, "You said"), answer: null });
  }

  _turn(turnId) {
    let turn = this.turns.get(turnId);
    if (!turn) {
      // A typed question (or a quiz question the server asks) starts its answer here.
      turn = this.pending ?? { item: el("li", { class: "turn" }), answer: null };
      if (!turn.item.isConnected) this.list.append(turn.item);
      this.pending = null;
      this.turns.set(turnId, turn);
    }
    if (!turn.answer) {
      turn.answer = el("p", { class: "answer", "data-turn": turnId },
        el("span", { class: "who" }, "Tutor"), el("span", { class: "text" }));
      turn.item.append(turn.answer);
    }
    return turn;
  }

  delta(turnId, text) {
    const turn = this._turn(turnId);
    const span = turn.answer.querySelector(".text");
    span.textContent = span.textContent ? `${span.textContent} ${text.trim()}` : text.trim();
    this._scroll(turn.item);
  }

  done(msg) {
    const turn = this._turn(msg.turn_id);
    turn.answer.querySelector(".text").textContent = msg.text;
    turn.item.classList.toggle("not-covered", !msg.grounded);
    if (!msg.grounded) {
      turn.answer.append(el("span", { class: "badge" }, "Not covered by the articles"));
    }
    const sources = renderSources(msg.sources);
    if (sources) turn.item.append(sources);
    const suggestions = this._suggestions(msg.suggestions);
    if (suggestions) turn.item.append(suggestions);
    this._scroll(turn.item);
  }

  /** `answer.done`'s follow-up questions (the articles answer them), as buttons. */
  _suggestions(questions) {
    const list = (Array.isArray(questions) ? questions : [])
      .filter((q) => typeof q === "string" && q.trim());
    if (!list.length || !this.onSuggest) return null;
    return el("div", { class: "suggestions", role: "group", "aria-label": "Ask next" },
      el("span", { class: "hint" }, "Ask next:"),
      ...list.map((q) => el("button", { type: "button", class: "suggestion",
                                         onclick: () => this.onSuggest(q.trim()) }, q.trim())));
  }

  interrupted(turnId) {
    const turn = this.turns.get(turnId);
    if (turn?.answer && !turn.answer.querySelector(".badge")) {
      turn.answer.append(el("span", { class: "badge stopped" }, "Stopped"));
    }
  }

  /** A whole reply that is not a streamed answer (quiz question, quiz feedback). */
  reply(turnId, text, cls) {
    const turn = this._turn(turnId);
    turn.answer.querySelector(".text").textContent = text;
    turn.item.classList.add(cls);
    this._scroll(turn.item);
  }
}
