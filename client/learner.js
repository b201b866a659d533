// Who is learning: a random learner id this browser makes once and keeps in localStorage
// (no account, no password: the access token stays the gate). It goes in `hello` on the
// socket, so sessions, progress and review belong to it; the profile (an optional display
// name, the speaking speed) lives on the server under /api/learners/{id}.

import { api } from "./access.js";
import { LEARNER_ID } from "./protocol.js";

const STORE_KEY = "tutor.learner_id";
let memory = ""; // when localStorage is unavailable: this page only

/** A fresh id: a UUID where the page is a secure context (https, localhost), else 16
 * random bytes in base64url; both match [A-Za-z0-9_-] and are at most 64 characters. */
function makeId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** This browser's learner id, made on first use and kept. */
export function learnerId() {
  let id = memory;
  try {
    id = localStorage.getItem(STORE_KEY) || memory;
  } catch {
    // storage blocked: keep the id in memory for this page
  }
  if (LEARNER_ID.test(id)) return id;
  id = makeId();
  memory = id;
  try {
    localStorage.setItem(STORE_KEY, id);
  } catch {
    // kept in memory only
  }
  return id;
}

/** The route for this learner, plus `tail` ("/progress", "/review", ...). */
export const learnerUrl = (tail = "") =>
  `/api/learners/${encodeURIComponent(learnerId())}${tail}`;

/** The profile {id, display_name, speed, created_at}, or null (not made yet, or the
 * tutor could not be reached). */
export async function loadProfile() {
  try {
    const res = await api(learnerUrl());
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

/** PUT {display_name?, speed?}; returns the saved profile, or throws with the reason. */
export async function saveProfile(changes) {
  const res = await api(learnerUrl(), {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(changes),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}
