// DOM helpers. Everything the server sends (answers, transcripts, article quotes and
// titles) is untrusted text: it is only ever set with textContent, never as HTML.

import { ERR } from "./protocol.js";

export const $ = (id) => document.getElementById(id);

/** el("p", {class: "x"}, "text", child...) — strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Sources, each a <details> that opens to the quoted passage and its article. */
export function renderSources(sources) {
  if (!sources?.length) return null;
  const list = el("ul", { class: "sources" });
  for (const s of sources) {
    const where = s.paragraph != null ? `, paragraph ${s.paragraph + 1}` : "";
    list.append(el("li", {},
      el("details", {},
        el("summary", {}, `Source: ${s.title}`),
        el("blockquote", {}, s.quote),
        el("p", { class: "cite" }, `From “${s.title}”${where}`))));
  }
  return list;
}

const ERROR_TEXT = {
  [ERR.BUSY]: "The tutor is busy with other learners right now. Trying again shortly…",
  [ERR.TOO_LARGE]: "That was too much to send at once. Please keep it shorter.",
  [ERR.TOO_LONG]: "That was a long one: I stopped listening after a while and will answer " +
    "what I heard.",
  [ERR.NO_SPEECH]: "I didn't catch any words. Please say that again.",
  [ERR.SILENT_AUDIO]: "Your microphone is sending only silence. Check that it is unmuted.",
  [ERR.BAD_JSON]: "The page sent something the tutor could not read. Reloading the page " +
    "should fix it.",
  [ERR.BAD_MESSAGE]: "The tutor did not accept that message.",
  [ERR.UNKNOWN_TYPE]: "The page and the tutor are out of step. Please reload the page.",
  [ERR.BAD_AUDIO]: "The tutor could not read the microphone's audio. Reloading the page " +
    "should fix it.",
  [ERR.EMPTY_AUDIO]: "A piece of microphone audio arrived empty and was skipped.",
  [ERR.AUDIO_NOT_ACCEPTED]: "This connection does not take microphone audio. Reload the " +
    "page to talk.",
  [ERR.AUDIO_TOO_FAST]: "The microphone audio arrived too fast, so some of it was " +
    "dropped. If answers miss words, reload the page.",
  [ERR.UNKNOWN_TURN]: "That reply is no longer known to the tutor; nothing was lost.",
  [ERR.EMPTY_QUESTION]: "The question was empty. Type or say something to ask.",
  [ERR.INTERNAL]: "The tutor hit a problem handling that. Please try again.",
  [ERR.IDLE_TIMEOUT]: "The session went quiet and was closed. It reconnects as soon as " +
    "you ask something.",
  [ERR.EVICTED]: "The tutor is full, and this quiet session made room for another " +
    "learner. It reconnects as soon as you ask something.",
  [ERR.HELLO_TIMEOUT]: "The connection to the tutor stalled. Reconnecting…",
  [ERR.TOO_MANY_SOCKETS]: "The tutor is open in too many tabs on this computer. Close " +
    "one; this tab keeps trying.",
  [ERR.TURN_FAILED]: "Sorry, answering that failed. Please ask again.",
  [ERR.NOT_READY]: "Lessons are still being prepared. Try again in a minute.",
  [ERR.STT_UNREACHABLE]: "The tutor's speech recognition is not reachable right now. " +
    "Please say that again in a moment, or type it.",
  [ERR.STT_TIMEOUT]: "Speech recognition took too long. Please say that again, or type it.",
  [ERR.STT_FAILED]: "Speech recognition failed on that. Please say that again, or type it.",
  [ERR.TTS_UNREACHABLE]: "The tutor's voice is not reachable right now; the answer is " +
    "shown as text.",
  [ERR.TTS_TIMEOUT]: "The tutor's voice took too long; the answer is shown as text.",
  [ERR.TTS_FAILED]: "The tutor's voice failed; the answer is shown as text.",
  [ERR.UNAUTHORIZED]: "This tutor needs an access token. Enter the one you were given to " +
    "continue.",
  [ERR.FORBIDDEN_ORIGIN]: "The tutor refused this page because it was opened from an " +
    "address the tutor does not allow. Open the tutor from its own address (or ask whoever " +
    "runs it to add this one to TUTOR_ALLOWED_ORIGINS).",
  [ERR.RATE_LIMITED]: "That is a lot of questions in a short time. Please wait a minute, " +
    "then ask again.",
};

/** A clear sentence for a server error; the server's own detail goes after it. */
export function errorText(code, message) {
  const known = ERROR_TEXT[code];
  if (!known) return message || `Something went wrong (${code}).`;
  const detailed = [ERR.BAD_MESSAGE, ERR.TOO_LARGE].includes(code) && message;
  return detailed ? `${known} (${message})` : known;
}

let noticeTimer = null;

/** Shows a notice in the alert region; info notices fade, errors stay until replaced. */
export function notify(text, kind = "info") {
  const box = $("notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
  clearTimeout(noticeTimer);
  if (kind === "info" && text) noticeTimer = setTimeout(() => { box.hidden = true; }, 8000);
}
