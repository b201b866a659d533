// The optional access token (TUTOR_API_TOKEN on the server). The page never knows in
// advance whether one is needed: it simply tries, and the first refusal (HTTP 401, or
// `error unauthorized` on the socket) asks the learner for the token, once, in a modal
// dialog. A token the server accepts is kept in localStorage and sent only in headers
// (`Authorization: Bearer`), never in a URL, where logs and history would keep it. Where a
// header cannot be set: the websocket opens with a single-use ticket the page asks for
// just before (`socketTicket`), and lesson audio plays from the short-lived signed URLs
// the lessons API hands out. Without a token configured nothing here is ever shown.

import { $ } from "./views.js";

const STORE_KEY = "tutor.token";
const CHECK_URL = "/api/articles"; // any guarded, read-only route answers "is this right?"
const TICKET_URL = "/api/ticket";
let memory = ""; // when localStorage is unavailable (private windows, blocked storage)
let prompt = null; // the open request for a token: one promise, however many callers

export function token() {
  try {
    return localStorage.getItem(STORE_KEY) || memory;
  } catch {
    return memory;
  }
}

function remember(value) {
  memory = value;
  try {
    localStorage.setItem(STORE_KEY, value);
  } catch {
    // kept in memory for this page only
  }
}

/** Forgets the stored token (it was refused). */
export function forget() {
  memory = "";
  try {
    localStorage.removeItem(STORE_KEY);
  } catch {
    // nothing stored
  }
}

/**
 * What to open the websocket with: {token, ticket} — `ticket` (single use, valid for
 * seconds) when a token is kept and the server accepted it, none when no token is kept
 * (the socket tries without one). {token, refusal} when the server refused the ticket
 * request: "unauthorized" (the kept token) or "forbidden_origin". Throws when the tutor
 * cannot be reached.
 */
export async function socketTicket() {
  const used = token();
  if (!used) return { token: "" };
  const res = await fetch(TICKET_URL, { method: "POST", headers: headersFor(used) });
  if (res.status === 401) return { token: used, refusal: "unauthorized" };
  if (res.status === 403) return { token: used, refusal: "forbidden_origin" };
  if (!res.ok) throw new Error(`ticket: HTTP ${res.status}`);
  return { token: used, ticket: (await res.json()).ticket };
}

function headersFor(value, headers = {}) {
  return value ? { ...headers, Authorization: `Bearer ${value}` } : headers;
}

/**
 * fetch() with the token. A 401 forgets the token, asks for a new one and tries again once
 * the learner has given one the server accepts (so callers just see the eventual answer).
 */
export async function api(url, options = {}) {
  for (;;) {
    const used = token();
    const res = await fetch(url, { ...options, headers: headersFor(used, options.headers) });
    if (res.status !== 401) return res;
    await needToken(used);
  }
}

/**
 * The server refused `refused` (the token a request carried; "" for none): forget it and
 * ask the learner. Every caller gets the same promise, resolved once a token has been
 * accepted. A refusal of a token already replaced by a newer one just resolves.
 */
export function needToken(refused = token()) {
  if (prompt) {
    if (!$("token-dialog").open) showDialog(); // dismissed earlier; the learner acted
    return prompt;
  }
  if (refused !== token()) return Promise.resolve();
  forget();
  prompt = new Promise((resolve) => openDialog(Boolean(refused), resolve)).then(() => {
    prompt = null;
  });
  return prompt;
}

// --- the dialog -----------------------------------------------------------------------

let returnFocus = null;
let resolvePrompt = null;

function openDialog(hadToken, resolve) {
  resolvePrompt = resolve;
  setError(hadToken ? "The saved access token is no longer accepted. Enter the current one."
    : "");
  $("token-input").value = "";
  showDialog();
}

function showDialog() {
  const dialog = $("token-dialog");
  $("token-open").hidden = true;
  if (dialog.open) return;
  returnFocus = document.activeElement;
  dialog.showModal();
  $("token-input").focus();
}

function setError(text) {
  const input = $("token-input");
  $("token-error").textContent = text;
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function busy(on) {
  $("token-submit").disabled = on;
  $("token-submit").textContent = on ? "Checking…" : "Connect";
}

async function check(value) {
  let res;
  try {
    res = await fetch(CHECK_URL, { headers: headersFor(value) });
  } catch (err) {
    // A header cannot carry some characters; anything else is the network.
    return err instanceof TypeError && /header/i.test(String(err.message))
      ? "That token contains characters that cannot be sent. Check it and try again."
      : "The tutor could not be reached to check the token. Try again in a moment.";
  }
  if (res.status === 401) return "That access token is not right. Check it and try again.";
  if (res.status === 429) return "Too many tries just now. Wait a minute, then try again.";
  return "";
}

async function submit(event) {
  event.preventDefault();
  const input = $("token-input");
  const value = input.value.trim();
  if (!value) {
    setError("Enter the access token to continue.");
    input.focus();
    return;
  }
  busy(true);
  const problem = await check(value);
  busy(false);
  if (problem) {
    setError(problem);
    input.focus();
    input.select();
    return;
  }
  setError("");
  remember(value);
  input.value = "";
  const resolve = resolvePrompt;
  resolvePrompt = null;
  $("token-dialog").close("accepted");
  resolve?.();
}

function bind() {
  const dialog = $("token-dialog");
  if (!dialog) return;
  $("token-form").addEventListener("submit", submit);
  dialog.addEventListener("close", () => {
    // Dismissed (Escape) without a token: offer a way back, and put focus somewhere sane.
    if (resolvePrompt) {
      $("token-open").hidden = false;
      $("token-open").focus();
    } else if (returnFocus?.isConnected && returnFocus !== document.body) {
      returnFocus.focus();
    }
    returnFocus = null;
  });
  $("token-open").addEventListener("click", showDialog);
}

bind();
