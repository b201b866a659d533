"""Doc2query, measured and not kept (issue 23, item 4; figures in docs/articles.md).

Each passage sentence's likely questions, written once by the packaged reader LLM
(Qwen2.5-Coder-1.5B, `make reader-llm`) into a JSON file {sentence: [questions]}:

    .venv/bin/python scripts/doc2query.py ../shared/articles-dev/*.html \
        ../shared/articles-dev/*.md ../shared/articles-dev/*.txt -n 1 -o /tmp/q.json

Resumable: sentences already in the file are skipped. Runs niced, 2 threads: about 2 s a
sentence for one question on 2 cores (an hour for the seven articles at three).

The index read such a file at commit 88eb8ef (`TUTOR_QUESTIONS=/tmp/q.json
TUTOR_QUESTIONS_MODE=max|boost|rank tutor eval tests/data/library --no-llm`): a sentence
as close as the closest question written for it. No mode found more facts on the
held-out articles, and every one declined fewer, so the index no longer reads it."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

PROMPT = (
    "Below is one sentence from an article, with the article's title and the section it "
    "is in. Write {n} short, different questions that a reader could ask and that this "
    "sentence answers. Use the names the sentence is about, not 'it'. One question per "
    "line, nothing else."
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("articles", nargs="+", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.nice(5)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from rich.progress import Progress

    from server.core import catalog
    from server.core.config import Settings
    from server.reason.index.passages import split_article
    from server.storage.library import Library
    from server.storage.store import Store

    settings = Settings()
    path = catalog.resolve("reader", settings.reader_model, settings.cache_dir)
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=1024, n_threads=args.threads, verbose=False, seed=0)
    done: dict[str, list[str]] = json.loads(args.out.read_text()) if args.out.exists() else {}
    folder = Path(tempfile.mkdtemp(prefix="d2q-"))
    library = Library(Store(folder / "library.sqlite3"))
    for p in args.articles:
        library.add_bytes(p.read_bytes(), p.name)
    todo: list[tuple[str, str, str]] = []
    for article in library.store.articles():
        for passage in split_article(article):
            for s in passage.sentences:
                if s not in done and len(s.split()) >= 4:
                    todo.append((s, article.title, passage.context))
    seen = set()
    todo = [t for t in todo if not (t[0] in seen or seen.add(t[0]))]
    start = time.monotonic()
    with Progress() as bar:
        task = bar.add_task("Writing questions", total=len(todo))
        for n, (sentence, title, context) in enumerate(todo, 1):
            user = f"Title: {title}\nSection: {context or '-'}\nSentence: {sentence}"
            reply = llm.create_chat_completion(
                messages=[
                    {"role": "system", "content": PROMPT.format(n=args.n)},
                    {"role": "user", "content": user},
                ],
                max_tokens=24 * args.n,
                temperature=0.0,
            )
            text = reply["choices"][0]["message"]["content"] or ""
            qs = [q.strip(" -*0123456789.").strip() for q in text.splitlines()]
            done[sentence] = [q for q in qs if q.endswith("?")][: args.n]
            if n % 10 == 0 or n == len(todo):
                args.out.write_text(json.dumps(done, indent=0))
            bar.advance(task)
    print(f"{len(todo)} sentences in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
