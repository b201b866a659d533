// The Articles panel: the list the tutor answers from (GET /api/articles), "Add an
// article" and "Remove" per article.
//
// Adding: a file (.md, .html, .htm, .txt) or pasted text with a title (sent as a .txt
// file whose first line is the title) goes to POST /api/articles, which refuses at once
// what it can tell is wrong (too large, another type, empty, not text) or answers 202
// with a job; the job is polled every POLL_MS until it is ready (the list is reloaded)
// or failed (no article text in it). Removing asks first, then DELETE /api/articles/{id}.
// Every error is said in plain words; everything from the server is set as text.

import { api } from "./access.js";
import { $, el, errorText } from "./views.js";

const POLL_MS = 500;
const MAX_MISSES = 40; // polls in a row without an answer (20 s) before giving up on a job
const UPLOAD_ERRORS = {
  too_large: "That is too large to add. Try a shorter article, or save the page as " +
    "plain text first.",
  unsupported_type: "The tutor takes Markdown (.md), web pages (.html, .htm) and plain " +
    "text (.txt) only.",
  empty_document: "There is no article text in that: it is empty, or too short to learn " +
    "from (at least 20 words).",
  bad_document: "That is not text the tutor can read (it looks like a binary file, or " +
    "its characters could not be read).",
  bad_request: "The upload did not arrive whole. Please try again.",
  rate_limited: "Several articles are being added already. Wait for one to finish, then " +
    "try again.",
  internal: "Adding the article failed on the tutor's side. Please try again.",
};
const STEPS = {
  queued: "Waiting for the library…",
  started: "Reading the article…",
  parsed: "Saving it…",
  stored: "Indexing it for answers…",
  indexed: "Almost done…",
};
const LESSON = {
  queued: "Its lesson is queued.",
  building: "Its lesson is being prepared.",
  ready: "Its lesson is ready.",
  failed: "Its lesson could not be prepared.",
};

/** A plain sentence for an upload's error ({code, message} from the server). */
export function uploadErrorText(code, message) {
  return UPLOAD_ERRORS[code] ?? errorText(code, message);
}

/** The pasted text as the file the tutor reads: the title as its first line. */
export function pastedFile(title, text) {
  const name = title.replace(/[^\p{L}\p{N} _-]+/gu, "").trim().replace(/\s+/g, "-");
  const heading = title.trim().replace(/[.\s]+$/, ""); // a full stop would make it prose
  return new File([`${heading}\n\n${text.trim()}\n`], `${name || "pasted-text"}.txt`,
    { type: "text/plain" });
}

const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export class Articles {
  /** onChanged(): after an article was added or removed (other views may follow). */
  constructor({ stats, onChanged = () => {} }) {
    this.stats = stats;
    this.onChanged = onChanged;
    this.adding = false;
    stats.articles = { loads: 0, jobs: [], added: 0, removed: 0, errors: [] };
    this._bind();
  }

  async load() {
    const list = $("articles");
    try {
      const res = await api("/api/articles");
      if (!res.ok) throw new Error(String(res.status));
      const articles = await res.json();
      list.replaceChildren(...articles.map((a) => this._item(a)));
      if (!articles.length) list.append(el("li", {}, "No articles yet."));
    } catch {
      list.replaceChildren(el("li", {}, "The article list could not be loaded."));
    }
    this.stats.articles.loads += 1;
  }

  _item(article) {
    const meta = [article.site, article.date].filter(Boolean).join(" · ");
    const item = el("li", { class: "article", "data-id": String(article.id) },
      el("div", { class: "about" },
        el("span", { class: "title" }, article.title),
        el("span", { class: "meta" }, meta)));
    const remove = el("button", {
      type: "button", class: "remove", "aria-label": `Remove “${article.title}”`,
      onclick: () => this._confirm(item, article, remove),
    }, "Remove");
    item.append(remove);
    return item;
  }

  /** The confirm step, in place of the Remove button. */
  _confirm(item, article, remove) {
    const box = el("div", { class: "confirm", role: "group", "aria-label": "Confirm removal" });
    const yes = el("button", { type: "button", class: "danger" }, "Remove it");
    const no = el("button", { type: "button" }, "Keep it");
    const said = el("p", { class: "hint" },
      `Remove “${article.title}”? The tutor will no longer answer from it.`);
    box.append(said, el("div", { class: "controls" }, yes, no));
    remove.hidden = true;
    item.append(box);
    yes.focus();
    no.addEventListener("click", () => {
      box.remove();
      remove.hidden = false;
      remove.focus();
    });
    yes.addEventListener("click", async () => {
      yes.disabled = no.disabled = true;
      const problem = await this._remove(article.id);
      if (!problem) return;
      said.textContent = problem;
      yes.disabled = no.disabled = false;
    });
  }

  /** DELETE the article; "" when it is gone (already gone counts), else what went wrong. */
  async _remove(id) {
    let res;
    try {
      res = await api(`/api/articles/${encodeURIComponent(id)}`, { method: "DELETE" });
    } catch {
      return "The tutor could not be reached. Check the connection and try again.";
    }
    if (!res.ok && res.status !== 404) {
      const error = await errorOf(res);
      return `It could not be removed. ${errorText(error.code, error.message)}`;
    }
    this.stats.articles.removed += 1;
    await this.load();
    $("articles-title").focus(); // the removed item had the focus
    this.onChanged();
    return "";
  }

  // --- adding -------------------------------------------------------------------------

  _bind() {
    $("article-file-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const file = $("article-file").files?.[0];
      if (!file) {
        this._status("Choose a file first.", "error");
        return;
      }
      this.add(file);
    });
    $("article-paste-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const title = $("article-title").value.trim();
      const text = $("article-text").value.trim();
      if (!title || !text) {
        this._status(title ? "Paste the article's text first." : "Give the article a title.",
          "error");
        return;
      }
      this.add(pastedFile(title, text));
    });
  }

  /** Upload one file and follow its job to the end. */
  async add(file) {
    if (this.adding) return;
    this._busy(true);
    this._status(`Sending “${file.name}”…`, "busy", 0);
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      let res;
      try {
        res = await api("/api/articles", { method: "POST", body: form });
      } catch {
        this._failed({ code: "", message: "" }, "The tutor could not be reached. Check the " +
          "connection and try again.");
        return;
      }
      if (res.status !== 202) {
        this._failed(await errorOf(res));
        return;
      }
      const job = await this._follow(await res.json());
      if (job) this._done(job);
    } finally {
      this._busy(false);
    }
  }

  /** Poll the job until it is ready (returned) or failed (said, and null returned). */
  async _follow(job) {
    this.stats.articles.jobs.push(job.job);
    let misses = 0; // polls in a row that got no answer about the job
    for (;;) {
      if (job.state === "ready") return job;
      if (job.state === "failed") {
        this._failed(job.error ?? { code: "internal", message: "" });
        return null;
      }
      this._status(STEPS[job.step] ?? "Adding it…", "busy", job.progress);
      await wait(POLL_MS);
      let res = null;
      try {
        res = await api(`/api/articles/jobs/${encodeURIComponent(job.job)}`);
      } catch {
        // the network blinked: ask again
      }
      if (res?.status === 404 || (!res?.ok && ++misses >= MAX_MISSES)) {
        this._failed({ code: "not_found" }, "The tutor lost track of that upload (it may " +
          "have restarted). Check the list, or add it again.");
        await this.load();
        return null;
      }
      if (res?.ok) {
        job = await res.json();
        misses = 0;
      }
    }
  }

  async _done(job) {
    const title = job.article?.title ?? job.filename;
    const lesson = LESSON[job.lesson] ? ` ${LESSON[job.lesson]}` : "";
    const said = job.created === false
      ? `“${title}” is in the library already.`
      : `Added “${title}”. You can ask about it now.${lesson}`;
    this.stats.articles.added += job.created === false ? 0 : 1;
    this._status(said, "ok", 1);
    $("article-file-form").reset();
    $("article-paste-form").reset();
    await this.load();
    this.onChanged();
  }

  _failed(error, text) {
    this.stats.articles.errors.push(error.code);
    this._status(text ?? uploadErrorText(error.code, error.message), "error");
  }

  _busy(on) {
    this.adding = on;
    for (const id of ["article-file-submit", "article-paste-submit"]) $(id).disabled = on;
  }

  /** The status line under the forms, and the bar while a job runs (`progress` 0..1). */
  _status(text, kind, progress = null) {
    const box = $("article-status");
    box.dataset.kind = kind;
    $("article-status-text").textContent = text;
    const bar = $("article-progress");
    bar.hidden = kind !== "busy";
    if (progress !== null) bar.value = progress;
  }
}

async function errorOf(res) {
  try {
    const body = await res.json();
    if (body?.error?.code) return body.error;
  } catch {
    // not JSON: say what the status says
  }
  const code = { 413: "too_large", 415: "unsupported_type" }[res.status] ?? "internal";
  return { code, message: `HTTP ${res.status}` };
}
