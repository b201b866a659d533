// One websocket to /ws/voice for every mode (voice, typed questions, lessons), so the
// server keeps one history per learner. Reconnects by itself with the same session_id and
// the session's secret (from `ready`; without it the server starts a new session), which
// live in sessionStorage so a reload continues the same conversation. `hello` carries the
// learner id and secret the server issued this browser (learner.js, kept in localStorage
// across reloads and visits); the first `ready` issues them.
// With an access token kept, each socket opens with a fresh single-use ticket
// (`?ticket=`), never the token itself. A refused socket (`error unauthorized` /
// `forbidden_origin`, then close 1008), or a refused ticket request, is never retried as
// is: onBlocked tells the page, which asks for a token and calls connect().

import { socketTicket } from "./access.js";
import { adopt, credentials } from "./learner.js";
import * as P from "./protocol.js";

const STORE_KEY = "tutor.session_id";
const SECRET_KEY = "tutor.session_secret";
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const BUSY_RETRY_MS = 10000;

export class Connection {
  /**
   * onEvent(msg): every JSON message; onAudio(ArrayBuffer): reply PCM;
   * onState(state, detail): "connecting" | "open" | "retrying" | "paused" | "blocked";
   * onBlocked(code, token): the server refused the socket (code "unauthorized",
   * "forbidden_origin" or "refused"; token: the one it carried). Called again when the
   * learner tries to send while blocked.
   */
  constructor({ onEvent, onAudio, onState, onBlocked }) {
    this.onEvent = onEvent;
    this.onAudio = onAudio;
    this.onState = onState;
    this.onBlocked = onBlocked ?? (() => {});
    this.blocked = null; // why the server refused the last socket; no retries while set
    this.refusal = null; // the code of an `error` that came just before a close
    this.ticket = null; // the ticket the current socket opened with
    this.freshTicket = false; // a refused ticket was replaced once; next refusal counts
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.timer = null;
    this.opening = false; // asking for a ticket; the socket comes next
    this.paused = false; // after idle_timeout: reconnect only when the learner acts
    this.busy = false;
    this.queue = []; // JSON messages waiting for `ready`
  }

  /** The session to continue: {id, secret}, or null for a new one. */
  get session() {
    const id = sessionStorage.getItem(STORE_KEY);
    const secret = sessionStorage.getItem(SECRET_KEY);
    return id && secret ? { id, secret } : null;
  }

  url(ticket) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = ticket ? `?ticket=${encodeURIComponent(ticket)}` : "";
    return `${scheme}//${location.host}/ws/voice${query}`;
  }

  connect() {
    clearTimeout(this.timer);
    if (this.opening || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    this.paused = false;
    this.busy = false;
    this.blocked = null;
    this.refusal = null;
    this.ready = false;
    this.onState("connecting");
    this.opening = true;
    this._open().finally(() => { this.opening = false; });
  }

  async _open() {
    let pass;
    try {
      pass = await socketTicket();
    } catch {
      this._retry(false); // the tutor could not be reached
      return;
    }
    this.token = pass.token;
    this.ticket = pass.ticket ?? null;
    if (pass.refusal) {
      this._block(pass.refusal);
      return;
    }
    const ws = new WebSocket(this.url(pass.ticket));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    // The learner: this browser's sessions, progress and review belong to it.
    ws.onopen = () =>
      ws.send(JSON.stringify(P.hello(P.INPUT_RATE, this.session, null, credentials())));
    ws.onmessage = (e) => this._onMessage(e.data);
    ws.onclose = (e) => this._onClose(ws, e);
  }

  _onMessage(data) {
    if (data instanceof ArrayBuffer) {
      this.onAudio(data);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // the server only sends JSON text; ignore anything else
    }
    if (msg.type === P.S.READY) {
      this.freshTicket = false;
      sessionStorage.setItem(STORE_KEY, msg.session_id);
      sessionStorage.setItem(SECRET_KEY, msg.session_secret);
      adopt(msg); // the learner's id, and its secret when this hello was issued one
      this.ready = true;
      this.attempt = 0;
      this.onState("open");
      for (const queued of this.queue.splice(0)) this.ws.send(JSON.stringify(queued));
    } else if (msg.type === P.S.ERROR && msg.code === P.ERR.BUSY) {
      this.busy = true;
    } else if (msg.type === P.S.ERROR
      && [P.ERR.IDLE_TIMEOUT, P.ERR.EVICTED].includes(msg.code)) {
      this.paused = true; // closed for being idle: back as soon as the learner acts
    } else if (msg.type === P.S.ERROR
      && [P.ERR.UNAUTHORIZED, P.ERR.FORBIDDEN_ORIGIN].includes(msg.code)) {
      this.refusal = msg.code;
      if (this._ticketLapsed()) return; // not news: a fresh ticket is tried first
    }
    this.onEvent(msg);
  }

  _onClose(ws, event) {
    if (ws !== this.ws) return;
    this.ready = false;
    this.ws = null;
    if (this.paused) {
      this.onState("paused");
      return;
    }
    if (this._ticketLapsed()) {
      // A ticket lapses (the tutor restarted, the tab slept past its 30 s): whether the
      // token still holds is for a fresh ticket request to say, once.
      this.freshTicket = true;
      this.connect();
      return;
    }
    if (this.refusal || event.code === P.CLOSE_POLICY) {
      this._block(this.refusal ?? "refused");
      return;
    }
    this._retry(this.busy || event.code === P.CLOSE_BUSY);
  }

  _ticketLapsed() {
    return this.refusal === P.ERR.UNAUTHORIZED && this.ticket && !this.freshTicket;
  }

  _block(code) {
    this.blocked = code;
    this.onState("blocked", { code });
    this.onBlocked(code, this.token);
  }

  _retry(busy) {
    const delay = busy ? BUSY_RETRY_MS : RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    this.onState("retrying", { delay, busy });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Sends a JSON message; queued until `ready` (and reconnects a paused session). */
  send(msg) {
    if (this.ready) {
      this.ws.send(JSON.stringify(msg));
      return;
    }
    if (msg.type !== P.C.PLAYBACK) this.queue.push(msg); // stale reports are not worth it
    if (this.blocked) this.onBlocked(this.blocked, this.token); // ask again, don't hammer
    else if (!this.ws) this.connect();
  }

  /** Microphone audio is only worth sending live: dropped while not connected. */
  sendAudio(buffer) {
    if (this.ready && this.ws.bufferedAmount < 256_000) this.ws.send(buffer);
  }
}
