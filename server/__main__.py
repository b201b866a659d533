"""Command line: `tutor serve | ingest | articles | ...` (typer).

Every command reads the same Settings (flags > TUTOR_* env > defaults). A bad setting or
input prints one line and exits 2; no tracebacks for a user's mistake."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import track
from rich.table import Table

from server.core.config import Settings
from server.core.errors import TutorError
from server.ops.bench.cli import bench_app
from server.ops.cliutil import DataDir, console, err, settings_from, setup_logging

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Voice tutor.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="[env TUTOR_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="[env TUTOR_PORT]")] = None,
    data_dir: DataDir = None,
    stt_model: Annotated[str | None, typer.Option(help="Catalog name or path.")] = None,
    llm_model: Annotated[str | None, typer.Option(help="Catalog name or path.")] = None,
    tts_voice: Annotated[str | None, typer.Option(help="Catalog name or path.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads per model.")] = None,
) -> None:
    """Start the tutor (HTTP + websockets) with the models loaded once."""
    import uvicorn

    from server.web.app import create_app, serve_options

    settings = settings_from(
        host=host,
        port=port,
        data_dir=data_dir,
        stt_model=stt_model,
        llm_model=llm_model,
        tts_voice=tts_voice,
        threads=threads,
    )
    settings.check()  # fail here, with one line, before uvicorn starts
    setup_logging(settings.log_level)
    uvicorn.run(create_app(settings), **serve_options(settings))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt, .md, .html).")],
    data_dir: DataDir = None,
) -> None:
    """Add articles to the library (the same cleaning as the bundled ones)."""
    from server.reason.ingest.document import load_file
    from server.storage.library import Library, document_paths
    from server.storage.store import Store

    settings = settings_from(data_dir=data_dir)
    library = Library(Store(settings.database))
    files = document_paths(paths)
    if not files:
        raise TutorError("no .txt, .md or .html files found in the given paths", code="usage")
    failed = 0
    for path in track(files, description="Ingesting", console=err):
        try:
            article, created = library.add(load_file(path))
        except TutorError as exc:
            failed += 1
            err.print(f"[red]skipped[/red] {exc.message}")
            continue
        state = "added" if created else "already present"
        console.print(f"{state}: #{article.id} {article.title} ({article.word_count} words)")
    if failed:
        raise typer.Exit(1)


@app.command()
def articles(data_dir: DataDir = None) -> None:
    """List the articles in the library."""
    from server.storage.store import Store

    store = Store(settings_from(data_dir=data_dir).database)
    table = Table("id", "title", "site", "author", "date", "words")
    for a in store.articles():
        table.add_row(
            str(a.id), a.title, a.site or "", a.author or "", a.published or "", str(a.word_count)
        )
    console.print(table)


def _answerer(settings: Settings, use_llm: bool = True):  # type: ignore[no-untyped-def]
    """The answer path without the speech models (for ask/eval)."""
    from server.session.services import open_services

    return open_services(settings, roles=("llm",) if use_llm else ()).answerer


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    data_dir: DataDir = None,
    explain: Annotated[
        bool,
        typer.Option(
            help="Then why: the question as parsed, the passages found, the rule that "
            "decided, the sentences chosen, the LLM's checks."
        ),
    ] = False,
) -> None:
    """Answer one question from the articles and show the sources."""
    import asyncio

    from server.reason.answer.respond import answer

    result = asyncio.run(answer(_answerer(settings_from(data_dir=data_dir)), question))
    console.print(result.text, highlight=False)
    if not result.grounded:
        console.print("[dim](not covered by the articles)[/dim]")
    for i, source in enumerate(result.sources, 1):
        console.print(f"[bold][{i}][/bold] {source.title}", highlight=False)
        console.print(f"    “{source.quote}”", highlight=False)
    if explain:
        console.print()
        if result.trace is None:
            console.print("[dim](no trace: a command, not a question)[/dim]")
        else:
            # Plain text: the articles' brackets and headings are not markup.
            console.print(result.trace.render(), highlight=False, markup=False, soft_wrap=True)


def _spoken(settings: Settings, answerer, items: list, voice: str) -> list:  # type: ignore[no-untyped-def]
    """The items as heard: said by `voice`, transcribed as the voice socket does."""
    from rich.progress import Progress

    from server.core import catalog
    from server.engines import PiperSynthesizer, WhisperTranscriber
    from server.listen.vocabulary import whisper_prompt
    from server.ops.bench import spoken as sp

    if voice not in sp.VOICES:
        raise TutorError(f"--spoken {voice}: the voices are {', '.join(sp.VOICES)}", code="usage")
    stt_path = catalog.resolve("stt", settings.stt_model, settings.cache_dir)
    stt = WhisperTranscriber(stt_path, settings.stt_model, settings.threads)
    piper = None
    if voice == "piper":
        tts_path = catalog.resolve("tts", settings.tts_voice, settings.cache_dir)
        piper = PiperSynthesizer(tts_path, settings.tts_voice, settings.threads)
    index = answerer.index
    prompt = whisper_prompt(index.vocabulary())
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"Saying and hearing ({voice})", total=len(items))
        heard = sp.spoken_items(
            items, voice, stt, piper, prompt, index.lexicon.strange_words,
            lambda: progress.advance(task),
        )  # fmt: skip
    console.print(
        f"{voice}: {sp.misheard(heard)} of {len(heard)} questions heard other than said",
        highlight=False,
    )
    return heard


@app.command("eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="Questions, as ../shared/eval/qa_public.json.")],
    data_dir: DataDir = None,
    no_llm: Annotated[bool, typer.Option(help="Extractive answers only.")] = False,
    naive: Annotated[bool, typer.Option(help="Baseline: plain RAG prompt, no checks.")] = False,
    fit: Annotated[
        bool,
        typer.Option(help="Refit the coverage model (server/reason/answer/gate.json) on FILE."),
    ] = False,
    spoken: Annotated[
        str | None,
        typer.Option(
            help="Say each question with this voice (piper or espeak) and answer what "
            "Whisper hears.",
            metavar="VOICE",
        ),
    ] = None,
    articles: Annotated[
        Path, typer.Option(help="A library's articles (with FILE a folder of question files).")
    ] = Path("../shared/articles-dev"),
    only: Annotated[
        str | None, typer.Option(help="Library: only these articles (comma-separated stems).")
    ] = None,
    show: Annotated[
        bool, typer.Option(help="Library: print each question of the sets not held out.")
    ] = False,
    reader: Annotated[
        str | None,
        typer.Option(
            help="rules, ranked or llm: how the answer sentence is chosen (ranked: the "
            "trained ranker; llm: the LLM reader judges the best 3) [env TUTOR_READER]",
            metavar="READER",
        ),
    ] = None,
) -> None:
    """Score the answer path on a question file, or on a library: a folder of question
    files, one per article (`server/ops/bench/library.py`), answered over those articles."""
    import asyncio
    import json
    import statistics

    from rich.progress import Progress

    from server.ops.bench import evaluate as ev

    if not file.exists():
        raise TutorError(f"{file}: no such file", code="usage")
    if file.is_dir():
        _evaluate_library(file, articles, only, show, no_llm, reader)
        return
    settings = settings_from(data_dir=data_dir, reader=reader)
    settings.reader_path()  # a missing reader model: one line, before anything loads
    answerer = _answerer(settings, use_llm=not no_llm)
    items = json.loads(file.read_text())
    if spoken is not None:
        items = _spoken(settings, answerer, items, spoken)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Answering", total=len(items))
        results = asyncio.run(
            ev.run(answerer, file, lambda: progress.advance(task), naive, items=items)
        )
    for r in results:
        mark = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
        via = "extractive" if r.answer.fallback else ("llm" if r.answer.grounded else "declined")
        console.print(
            f"{mark} {r.question}  [dim]({r.expected}; {via}; {r.seconds:.2f}s)[/dim]",
            highlight=False,
        )
        console.print(f"     {r.answer.text}", highlight=False)
        if r.unsupported:
            console.print(f"     [red]unsupported: {r.unsupported}[/red]")
    s = ev.summary(results)
    answerable = [r for r in results if r.expected != "abstain"]
    kept = sum(1 for r in answerable if r.answer.grounded and not r.answer.fallback)
    firsts = [r.answer.timings["first_token"] for r in results if "first_token" in r.answer.timings]
    full = [r.answer.timings.get("answer", 0.0) for r in results]
    judged = [r.answer.timings["reader"] for r in results if "reader" in r.answer.timings]
    table = Table("", "value", title=f"{file.name}: {len(results)} questions")
    for name, value in [
        ("facts found", f"{s['facts_found']}/{s['answerable']}"),
        ("out-of-scope declined", f"{s['declined_right']}/{s['out_of_scope']}"),
        (
            "abstention precision / recall",
            f"{s['abstain_precision']:.2f} / {s['abstain_recall']:.2f}",
        ),
        ("answers with unsupported names/numbers", str(s["unsupported"])),
        ("median answer length (factual), words", f"{s['median_words']:.0f}"),
        ("retrieval p50 / p95", f"{s['retrieval_p50_ms']:.1f} / {s['retrieval_p95_ms']:.1f} ms"),
        ("LLM answers kept", f"{kept}/{len(answerable)}"),
        (
            "first token median",
            f"{statistics.median(firsts):.2f} s" if firsts else "-",
        ),
        ("full answer median", f"{statistics.median(full):.2f} s"),
        ("seconds per question (mean)", f"{statistics.fmean(r.seconds for r in results):.2f}"),
        *(
            [("LLM reader: median s / judged question", f"{statistics.median(judged):.2f}")]
            if judged
            else []
        ),
    ]:
        table.add_row(name, value)
    by_kind: dict[str, list[bool]] = {}
    for r in results:
        by_kind.setdefault(r.kind or r.expected.split(":")[0], []).append(r.passed)
    console.print(table)
    console.print(
        "by kind: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())),
        highlight=False,
    )
    if fit:
        model = ev.fit_gate(results)
        model.save()
        console.print(f"coverage model refitted: {model.weights} bias {model.bias}")


def _evaluate_library(
    folder: Path,
    articles: Path,
    only: str | None,
    show: bool,
    no_llm: bool,
    reader: str | None = None,
) -> None:
    """`tutor eval DIR`: every article of `articles` in one library, each question file of
    DIR asked over it; a table per article, held-out articles first."""
    import asyncio

    from rich.progress import Progress

    from server.core import catalog
    from server.ops.bench import library as lib
    from server.reason.index.embed import Embedder

    sets = lib.load_sets(folder)
    if only:
        wanted = {w.strip() for w in only.split(",")}
        sets = [s for s in sets if Path(s.article).stem.removesuffix(".saved-page") in wanted
                or s.article in wanted or Path(s.article).stem in wanted]  # fmt: skip
    paths = [articles / s.article for s in lib.load_sets(folder)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise TutorError(f"articles not found: {', '.join(missing)}", code="usage")
    settings = settings_from(reader=reader)
    judge = None
    if settings.reader == "llm":
        from server.session.services import open_judge

        judge = open_judge(settings)
    ranker = None
    if settings.reader == "ranked":
        from server.reason.answer.rank import Ranker

        ranker = Ranker.load()
    embedder = Embedder(
        catalog.resolve("embed", settings.embed_model, settings.cache_dir),
        settings.embed_model,
        settings.threads,
    )
    llm = None if no_llm else _answerer(settings, use_llm=True).llm
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Reading the articles", total=len(paths))
        answerer = lib.build_answerer(
            paths,
            embedder,
            llm,
            lambda done, total: progress.update(task, completed=done),
            judge=judge,
            ranker=ranker,
        )
        task = progress.add_task("Answering", total=sum(len(s.items) for s in sets))
        results = asyncio.run(lib.run_sets(answerer, sets, lambda: progress.advance(task)))
    if judge is not None:
        judge.close()
    if show:
        for qs in sets:
            if qs.held_out:
                continue  # a held-out set's questions are not read while developing
            for r in results[qs.article]:
                mark = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
                console.print(f"{mark} [{qs.article[:12]}] {r.question}  [dim]({r.kind})[/dim]",
                              highlight=False)  # fmt: skip
                console.print(f"     {r.answer.text}", highlight=False)
    scores = sorted(
        (lib.score(qs, results[qs.article]) for qs in sets), key=lambda s: not s.held_out
    )

    def seconds(answered: list) -> float:  # type: ignore[type-arg]
        return sum(r.seconds for r in answered) / len(answered) if answered else 0.0

    table = Table(
        "article", "facts found", "declined", "answered wrong", "median words",
        "retrieval p50 / p95 ms", "s / question",
        title=f"{folder}: {len(paths)} articles" + (" (LLM reader)" if judge else ""),
    )  # fmt: skip
    for group, rows in (("held out", [s for s in scores if s.held_out]),
                        ("development", [s for s in scores if not s.held_out])):  # fmt: skip
        if not rows:
            continue
        for s in rows:
            table.add_row(
                f"{s.article} ({group})",
                f"{s.facts_found}/{s.answerable}",
                f"{s.declined_right}/{s.out_of_scope}",
                str(s.answered_wrong),
                f"{s.median_words:.0f}",
                f"{s.retrieval_p50_ms:.1f} / {s.retrieval_p95_ms:.1f}",
                f"{seconds(results[s.article]):.2f}",
            )
        t = lib.totals(rows)
        table.add_row(
            f"[bold]all {group}[/bold]",
            f"{t['facts_found']}/{t['answerable']}",
            f"{t['declined_right']}/{t['out_of_scope']}",
            str(t["answered_wrong"]),
            "",
            "",
            f"{seconds([r for s in rows for r in results[s.article]]):.2f}",
        )
    console.print(table)


app.add_typer(bench_app, name="bench")


lessons_app = typer.Typer(no_args_is_help=True, help="Narrated lessons made from the articles.")
app.add_typer(lessons_app, name="lessons")


@lessons_app.command("build")
def lessons_build(
    data_dir: DataDir = None,
    no_llm: Annotated[bool, typer.Option(help="Narrate in the articles' own words.")] = False,
    no_audio: Annotated[bool, typer.Option(help="Scripts only; narration later.")] = False,
) -> None:
    """Build missing or outdated lessons and their narration (a progress bar per phase)."""
    from server.ops import lesson_cli as cli

    settings = settings_from(data_dir=data_dir)
    settings.check()
    cli.build(settings, err, use_llm=not no_llm, narrate=not no_audio)


@lessons_app.command("list")
def lessons_list(data_dir: DataDir = None) -> None:
    """List the built lessons."""
    from server.ops import lesson_cli as cli

    settings = settings_from(data_dir=data_dir)
    console.print(cli.table(settings, settings.tts_voice))


cluster_app = typer.Typer(no_args_is_help=True, help="Several tutor hosts on one machine.")
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("up")
def cluster_up(
    port: Annotated[int, typer.Option(help="Where learners connect (HAProxy).")] = 8080,
    data_dir: Annotated[
        Path, typer.Option(help="Folder for the database, logs and shared files.")
    ] = Path("data/cluster"),
) -> None:
    """Start Postgres, two LLM servers, two tutor hosts and HAProxy on --port; print one
    JSON line when all are healthy; Ctrl-C stops them all."""
    from server.ops import cluster

    settings = settings_from()
    settings.check()
    setup_logging(settings.log_level)
    cluster.run(settings, port, data_dir)


def main() -> None:
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except TutorError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "TUTOR_" + "_".join(str(p) for p in first["loc"]).upper()
        print(f"error: {field}: {first['msg']}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: an unknown option, a bad value
        # typer carries its own click; its exceptions know how to print themselves.
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))


if __name__ == "__main__":
    main()
