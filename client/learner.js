// Who is learning: the learner id and secret the server issues at this browser's first
// hello (`ready {learner_id, learner_secret}`), both kept in localStorage
// (`tutor.learner_id`, `tutor.learner_secret`). The secret is the key to the learner's
// record: `hello` sends it with the id, so sessions, progress and review belong to this
// learner, and the learner routes (/api/learners/{id}: profile, progress, review, export,
// erasure) take it in the X-Learner-Secret header. The server keeps only its hash, so a
// browser that loses it starts a new learner. An id kept from before the server issued
// secrets is sent alone once, and the server hands over its secret then.

import { api } from "./access.js";
import { LEARNER_ID, LEARNER_SECRET } from "./protocol.js";

const ID_KEY = "tutor.learner_id";
const SECRET_KEY = "tutor.learner_secret";
const memory = {}; // when localStorage is unavailable: this page only

function read(key) {
  try {
    return localStorage.getItem(key) || memory[key] || "";
  } catch {
    return memory[key] || "";
  }
}

function write(key, value) {
  memory[key] = value;
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // kept in memory only
  }
}

/** This browser's learner id ("" until the server has issued one). */
export function learnerId() {
  const id = read(ID_KEY);
  return LEARNER_ID.test(id) ? id : "";
}

/** Its secret ("" when none is kept). */
export function learnerSecret() {
  const secret = read(SECRET_KEY);
  return LEARNER_SECRET.test(secret) ? secret : "";
}

/** What `hello` carries: {id, secret}, either null when not kept. */
export function credentials() {
  return { id: learnerId() || null, secret: learnerSecret() || null };
}

/** `ready`: keep the learner it names, and its secret when it hands one over. */
export function adopt(ready) {
  if (!ready.learner_id || !LEARNER_ID.test(ready.learner_id)) return;
  if (ready.learner_id !== learnerId()) {
    write(ID_KEY, ready.learner_id);
    write(SECRET_KEY, ""); // the old learner's secret opens nothing of the new one
  }
  if (ready.learner_secret && LEARNER_SECRET.test(ready.learner_secret)) {
    write(SECRET_KEY, ready.learner_secret);
  }
}

/** The route for this learner, plus `tail` ("/progress", "/review", ...). */
export const learnerUrl = (tail = "") =>
  `/api/learners/${encodeURIComponent(learnerId())}${tail}`;

/** fetch() of this learner's route `tail`, with the token and the learner's secret; null
 * before the server has issued them (the first socket's `ready`). */
export async function learnerFetch(tail = "", options = {}) {
  const secret = learnerSecret();
  if (!learnerId() || !secret) return null;
  const headers = { ...(options.headers ?? {}), "X-Learner-Secret": secret };
  return api(learnerUrl(tail), { ...options, headers });
}

/** The profile {id, display_name, speed, created_at}, or null (not made yet, or the
 * tutor could not be reached). */
export async function loadProfile() {
  try {
    const res = await learnerFetch();
    return res?.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

/** PUT {display_name?, speed?}; returns the saved profile, or throws with the reason. */
export async function saveProfile(changes) {
  const res = await learnerFetch("", {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(changes),
  });
  if (!res) throw new Error("not connected to the tutor yet");
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}
