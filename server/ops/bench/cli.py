"""`tutor bench ...`: benchmarks print figures and ratios measured in the same run; they
never assert (speed is measured here, not in tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from server.ops.cliutil import DataDir, console, err, free_port, settings_from
from server.ops.hardware import cpu_line

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: print figures, assert nothing.")


@bench_app.command("stt")
def bench_stt(
    model: Annotated[list[str] | None, typer.Option(help="Catalog names (repeat).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Word error rate and speed of each Whisper model on the spoken fixtures."""
    from server.listen.vocabulary import whisper_prompt
    from server.ops.bench import stt
    from server.session.services import open_services

    settings = settings_from(data_dir=data_dir)
    # The library's vocabulary, for Whisper's prompt; the models compared are loaded below.
    prompt = whisper_prompt(open_services(settings, roles=()).index.vocabulary())
    results = stt.run(settings, model or ["tiny.en", "base"], prompt)
    table = Table("model", "vocabulary prompt", "voice", "WER", "s per s of audio")
    for r in results:
        table.add_row(
            r.model, "yes" if r.prompted else "no", r.voice, f"{r.wer:.1%}", f"{r.rtf:.3f}"
        )
    console.print(table)
    console.print(f"CPU: {cpu_line()}")
    console.print(f"[dim]{settings.threads} threads; prompt: {prompt[:100]}...[/dim]")


def _bench_server(data_dir: Path | None, max_sessions: int = 16):  # type: ignore[no-untyped-def]
    """The real server on a free loopback port, in a thread, for the benchmarks."""
    import tempfile
    import threading
    import time

    import uvicorn

    from server.web.app import create_app, serve_options

    # No background lesson build: it would compete with the turns being measured.
    settings = settings_from(
        data_dir=data_dir or Path(tempfile.mkdtemp(prefix="tutor-bench-")),
        log_level="WARNING",
        build_lessons=False,
    )
    settings.check()
    settings.max_sessions = max_sessions
    settings.max_sockets_per_address = max_sessions  # every simulated client is loopback
    settings.question_rate_limit = "10000/minute"
    port = free_port()
    app_ = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app_, **serve_options(settings, host="127.0.0.1", port=port, log_level="error")
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    services = app_.state.services
    # Measured as a learner finds a server that has been up a moment: index in, warm.
    services.index_ready.wait(300)
    services.warmed.wait(300)
    services.speech_prepared.wait(600)
    return settings, app_.state.services, f"ws://127.0.0.1:{port}/ws/voice", server, thread


def _bench_utterances(synth, questions: Path | None):  # type: ignore[no-untyped-def]
    import json as jsonlib

    from server.ops.bench import voice

    source = questions or Path(__file__).resolve().parents[4] / "shared/eval/qa_public.json"
    texts = (
        [item["q"] for item in jsonlib.loads(source.read_text())]
        if source.exists()
        else voice.DEFAULT_QUESTIONS
    )
    return voice.speak_questions(texts, lambda t: b"".join(synth.synthesize(t)), synth.sample_rate)


@bench_app.command("load")
def bench_load(
    clients: Annotated[int, typer.Option(help="Simulated voice clients.")] = 8,
    seconds: Annotated[float, typer.Option(help="How long new turns start.")] = 60,
    max_sessions: Annotated[int, typer.Option(help="The server's session limit.")] = 8,
    questions: Annotated[Path | None, typer.Option(help="Question file (eval format).")] = None,
    data_dir: DataDir = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="A running tutor (http://host:port, e.g. `tutor cluster up`'s) instead of "
            "one started here."
        ),
    ] = None,
) -> None:
    """N voice clients on loopback for a bounded time: errors, refusals, latency."""
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from server.ops.bench import load, voice

    if url is None:
        settings, services, socket_url, server, thread = _bench_server(data_dir, max_sessions)
        synth = services.engines.synthesizer
    else:
        # Only the voice that says the questions is loaded here: the tutor is elsewhere.
        from server.session.services import open_engine

        settings, server = settings_from(data_dir=data_dir, log_level="WARNING"), None
        synth = open_engine("tts", settings)
        socket_url = url.rstrip("/").replace("http", "ws", 1) + "/ws/voice"
    utterances = _bench_utterances(synth, questions)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[turns]} turns"),
        console=err,
    ) as progress:
        task = progress.add_task(f"{clients} clients", total=None, turns=0)
        count = [0]

        def tick() -> None:
            count[0] += 1
            progress.update(task, turns=count[0])

        report = asyncio.run(load.run(socket_url, utterances, clients, seconds, tick))
    if server is not None:
        server.should_exit = True
        thread.join(timeout=10)
    s = voice.summarize(report.results)
    where = url or "a tutor on loopback"
    table = Table("", "value", title=f"Load on {where}: {clients} voice clients, {seconds:.0f} s")
    final = s["stages"].get("end_of_speech_to_final", (float("nan"),) * 2)
    for name, value in [
        ("turns completed", str(len(report.results))),
        ("turns per minute", f"{len(report.results) / (seconds / 60):.1f}"),
        ("errors", ", ".join(f"{k} {v}" for k, v in report.errors.items()) or "0"),
        (
            "refused (busy or dropped)",
            ", ".join(f"{k} {v}" for k, v in report.refusals.items()) or "0",
        ),
        ("voice-to-voice p50 / p95", f"{s['v2v_p50']:.2f} s / {s['v2v_p95']:.2f} s"),
        ("end of speech -> final transcript p50 / p95", f"{final[0]:.2f} s / {final[1]:.2f} s"),
        ("transcript WER", f"{s['wer']:.1%}"),
    ]:
        table.add_row(name, value)
    console.print(table)
    console.print(f"CPU: {cpu_line()}")
    if url is None:
        console.print(
            f"[dim]server session limit {settings.max_sessions}, {settings.threads} "
            f"threads per model[/dim]"
        )


@bench_app.command("voice")
def bench_voice(
    talkers: Annotated[str, typer.Option(help="Concurrency levels, comma separated.")] = "1,4,8",
    per_talker: Annotated[
        int,
        typer.Option(
            help="Utterances per talker above 1 talker (6: 24 turns at 4 talkers, so that "
            "p95 is not simply the slowest turn)."
        ),
    ] = 6,
    questions: Annotated[Path | None, typer.Option(help="Question file (eval format).")] = None,
    data_dir: DataDir = None,
    turns_out: Annotated[
        Path | None,
        typer.Option("--turns", help="Write each turn (words, heard, v2v, stages) as JSON lines."),
    ] = None,
    naive_baseline: Annotated[
        bool, typer.Option("--naive/--no-naive", help="Time the naive pipeline too.")
    ] = True,
) -> None:
    """Voice-to-voice latency at several concurrency levels vs a naive pipeline."""
    import asyncio
    import json

    from rich.progress import Progress

    from server.ops.bench import voice

    if turns_out is not None:
        turns_out.write_text("")
    settings, services, url, server, thread = _bench_server(data_dir)
    utterances = _bench_utterances(services.engines.synthesizer, questions)
    levels = [int(x) for x in talkers.split(",") if x.strip()]
    summaries: dict[int, dict] = {}
    naive: list[float] = []

    async def run_all(progress: Progress) -> None:
        for n in levels:
            todo = (
                utterances
                if n == 1
                else [
                    utterances[(i * 5 + j) % len(utterances)]
                    for i in range(n)
                    for j in range(per_talker)
                ]
            )
            task = progress.add_task(f"{n} talker(s)", total=len(todo))
            results: list = []

            async def talker(items: list, results: list = results, task: int = task) -> None:
                for u in items:
                    results.append(await voice.talk(url, u))
                    progress.advance(task)

            chunks = [todo[i::n] for i in range(n)]
            await asyncio.gather(*(talker(c) for c in chunks))
            summaries[n] = voice.summarize(results)
            if turns_out is not None:
                with turns_out.open("a") as out:
                    for r in results:
                        out.write(json.dumps({"talkers": n, **voice.turn_record(r)}) + "\n")
        if not naive_baseline:
            return
        task = progress.add_task("naive pipeline", total=len(utterances))
        for u in utterances:
            naive.append(await voice.naive_turn(services, u, settings.vad_silence_ms / 1000))
            progress.advance(task)

    with Progress(console=err) as progress:
        asyncio.run(run_all(progress))
    server.should_exit = True
    thread.join(timeout=10)

    table = Table(
        "talkers",
        "turns",
        "errors",
        "v2v p50",
        "v2v p95",
        "WER",
        title="Voice-to-voice (end of speech -> first reply audio, client-measured)",
    )
    for n, s in summaries.items():
        table.add_row(
            str(n),
            str(s["turns"]),
            str(s["errors"]),
            f"{s['v2v_p50']:.2f} s",
            f"{s['v2v_p95']:.2f} s",
            f"{s['wer']:.1%}",
        )
    console.print(table)
    console.print(f"CPU: {cpu_line()}")
    stages = Table("stage (server)", *[f"{n} talker(s) p50 / p95" for n in summaries])
    names = sorted({k for s in summaries.values() for k in s["stages"]})
    for name in names:
        stages.add_row(
            name,
            *[
                "{:.3f} / {:.3f} s".format(*s["stages"][name]) if name in s["stages"] else "-"
                for s in summaries.values()
            ],
        )
    console.print(stages)
    if not naive:
        return
    base = summaries.get(1) or next(iter(summaries.values()))
    n50, n95 = voice.percentile(naive, 50), voice.percentile(naive, 95)
    console.print(
        f"naive sequential pipeline: p50 {n50:.2f} s, p95 {n95:.2f} s; streaming is "
        f"{n50 / base['v2v_p50']:.1f}x faster to first audio at p50 "
        f"({n95 / base['v2v_p95']:.1f}x at p95). {settings.threads} threads per model, "
        f"STT {settings.stt_model}, silence window {settings.vad_silence_ms} ms."
    )


@bench_app.command("wyoming")
def bench_wyoming(
    rounds: Annotated[int, typer.Option(help="Calls of each kind.")] = 10,
    data_dir: DataDir = None,
) -> None:
    """What the Wyoming hop costs: a spoken question transcribed and a sentence spoken,
    in-process and through wyoming-faster-whisper / wyoming-piper started here."""
    from server.ops.bench import wyoming

    settings = settings_from(data_dir=data_dir)
    with wyoming.speech_servers(settings) as (stt, tts):
        timings = wyoming.run(settings, stt.url, tts.url, rounds)
    table = Table("call", "median ms", "p90 ms")
    for t in timings:
        table.add_row(t.what, f"{t.median_ms:.0f}", f"{t.p90_ms:.0f}")
    console.print(table)
    console.print(f"CPU: {cpu_line()}")
    console.print(
        f"[dim]{settings.threads} threads each (the servers' too); {rounds} rounds, "
        f"alternating; {wyoming.fixture_seconds():.1f} s question; "
        f"sentence: {wyoming.SENTENCE!r}[/dim]"
    )


@bench_app.command("stages")
def bench_stages(
    rounds: Annotated[int, typer.Option(help="Turns timed per stage.")] = 10,
    data_dir: DataDir = None,
) -> None:
    """What one spoken turn costs at each stage, each engine with one thread, one turn at
    a time: the per-session figures behind docs/deploying.md's capacity note."""
    import asyncio
    import time

    import numpy as np
    import soxr
    from rich.progress import track

    from server.engines.interfaces import STT_RATE
    from server.listen.vocabulary import whisper_prompt
    from server.ops.bench.voice import percentile
    from server.reason.answer.respond import answer
    from server.session.services import open_services

    settings = settings_from(data_dir=data_dir, log_level="WARNING", threads=1)
    settings.check()
    services = open_services(settings)
    engines, answerer = services.engines, services.answerer
    question = "When is Avocado expected to launch?"
    voice = engines.synthesizer
    pcm = np.frombuffer(b"".join(voice.synthesize(question)), np.int16)
    audio = soxr.resample(pcm.astype(np.float32) / 32768, voice.sample_rate, STT_RATE)
    prompt = whisper_prompt(answerer.index.vocabulary())
    times: dict[str, list[float]] = {"stt": [], "retrieval": [], "llm": [], "tts": []}
    text = ""
    for _ in track(range(rounds), description="Timing stages", console=err):
        start = time.perf_counter()
        heard = engines.transcriber.transcribe(audio, prompt)
        times["stt"].append(time.perf_counter() - start)
        result = asyncio.run(answer(answerer, heard or question))
        times["retrieval"].append(result.timings["retrieval"])
        times["llm"].append(result.timings["answer"] - result.timings["retrieval"])
        text = result.text
        start = time.perf_counter()
        for _chunk in voice.synthesize(text):
            pass
        times["tts"].append(time.perf_counter() - start)
    # The first audio waits for the first piece's synthesis: its time by length, and the
    # head the tutor would speak first (speak/transmit.py).
    from server.reason.text import sentences
    from server.speak.transmit import head_phrase

    first = sentences(text)[0] if text.strip() else question
    words = (first + " " + text).split()
    pieces = {f"{n} words": " ".join(words[:n]) for n in (2, 4, 8, 16) if n <= len(words)}
    head = head_phrase(first)[0]
    pieces[f"the head ({len(head.split())} words: {head!r})"] = head
    firsts: dict[str, list[float]] = {name: [] for name in pieces}
    for _ in range(rounds):
        for name, piece in pieces.items():
            start = time.perf_counter()
            b"".join(voice.synthesize(piece))
            firsts[name].append(time.perf_counter() - start)
    services.close()
    table = Table("stage", "median s", "p90 s", title=f"One spoken turn, {rounds} rounds")
    for stage, values in times.items():
        table.add_row(stage, f"{percentile(values, 50):.3f}", f"{percentile(values, 90):.3f}")
    for name, values in firsts.items():
        table.add_row(
            f"first audio: {name}", f"{percentile(values, 50):.3f}", f"{percentile(values, 90):.3f}"
        )
    console.print(table)
    console.print(f"answer said: {len(text.split())} words; audio {len(audio) / STT_RATE:.1f} s")
    console.print(f"CPU: {cpu_line()}")
