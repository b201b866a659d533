// Voice controls: microphone on/off, hands-free or push-to-talk, the level meter.
// Hands-free streams every frame (the server's VAD finds the questions, and speech
// while the tutor talks is a barge-in). Push-to-talk streams only while the button is
// held, then a short silence so the server's VAD sees the end of the question at once.

import { Mic } from "./audio.js";
import { INPUT_RATE } from "./protocol.js";
import { $, notify } from "./views.js";

const TAIL_MS = 800; // > the server's end-of-speech silence (500 ms by default)

const MIC_ERRORS = {
  NotAllowedError: "Microphone access was refused.",
  SecurityError: "Microphone access was refused.",
  NotFoundError: "No microphone was found.",
  NotReadableError: "The microphone is in use by another program.",
  NotSupportedError: "This browser gives the page no microphone (it needs https or localhost).",
};

export class Talk {
  /** sendAudio(ArrayBuffer); onUnavailable(): the mic cannot be used (go to text). */
  constructor({ sendAudio, onUnavailable, stats }) {
    this.sendAudio = sendAudio;
    this.onUnavailable = onUnavailable;
    this.stats = stats;
    this.mic = new Mic((pcm, level) => this._frame(pcm, level));
    this.pushMode = false;
    this.held = false;
    this.button = $("mic");
    this.button.addEventListener("click", () => this.toggle());
    for (const radio of document.querySelectorAll("input[name=talk-mode]")) {
      radio.addEventListener("change", () => this._setMode(radio.value === "push"));
    }
    this._bindPushToTalk($("ptt"));
  }

  _setMode(push) {
    this.pushMode = push;
    this.held = false;
    $("ptt").hidden = !push || !this.mic.active;
    $("ptt-help").hidden = !push;
    this._showState();
  }

  _bindPushToTalk(btn) {
    const down = (e) => { e.preventDefault(); this._hold(true); };
    const up = () => this._hold(false);
    btn.addEventListener("pointerdown", down);
    btn.addEventListener("pointerup", up);
    btn.addEventListener("pointerleave", up);
    btn.addEventListener("pointercancel", up);
    btn.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) down(e);
    });
    btn.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") up(); });
    btn.addEventListener("blur", up);
  }

  _hold(on) {
    if (!this.pushMode || on === this.held) return;
    this.held = on;
    $("ptt").setAttribute("aria-pressed", String(on));
    if (!on) this.sendAudio(new Int16Array((INPUT_RATE * TAIL_MS) / 1000).buffer);
    this._showState();
  }

  _frame(pcm, level) {
    $("level").style.width = `${Math.min(100, Math.round(Math.sqrt(level) * 180))}%`;
    if (this.pushMode && !this.held) return;
    this.stats.framesSent += 1;
    this.sendAudio(pcm);
  }

  _showState() {
    let text = "Microphone off.";
    if (this.mic.active) {
      text = this.pushMode ? (this.held ? "Listening…" : "Hold the button to talk.")
        : "Listening: just ask.";
    }
    $("listen-state").textContent = text;
  }

  async start() {
    try {
      await this.mic.start();
    } catch (err) {
      this.mic.stop();
      const why = MIC_ERRORS[err.name] ?? `The microphone could not start (${err.message}).`;
      notify(`${why} You can type your questions instead.`, "error");
      this.onUnavailable();
      return false;
    }
    this.button.textContent = "Stop listening";
    this.button.setAttribute("aria-pressed", "true");
    this._setMode(this.pushMode);
    return true;
  }

  stop() {
    this.mic.stop();
    this.held = false;
    this.button.textContent = "Start talking";
    this.button.setAttribute("aria-pressed", "false");
    $("level").style.width = "0";
    this._setMode(this.pushMode);
  }

  toggle() {
    return this.mic.active ? this.stop() : this.start();
  }

  setSpeaking(speaking) {
    $("listen-state").textContent = speaking ? "Hearing you…" : "Thinking…";
  }

  reset() {
    this._showState();
  }
}
