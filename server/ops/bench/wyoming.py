"""Wyoming speech servers with the packaged models, and what the hop to them costs.

`speech_servers(settings)` starts wyoming-faster-whisper (the catalog's Whisper folder as
its `--model`) and wyoming-piper (the catalog's voice: its folder as `--data-dir`, its
file name as `--voice`) on free loopback ports, waits until each answers a Describe, and
stops them afterwards: `tutor bench wyoming` and tests/test_remote_speech.py use it, and
docs/deploying.md shows the same commands. Nothing is downloaded: both servers find the files.

`run(...)` measures, alternating, one short spoken question transcribed and one sentence
spoken, in-process and through the servers. The Wyoming server decodes with its own
options (the whole 30 s window), so the plain faster-whisper call with those options is
measured too: the hop is the remote time less that one. Benchmarks print; they never
assert."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from server.core.config import Settings
from server.engines import wyoming_link as link
from server.ops.bench.voice import percentile
from server.ops.cliutil import free_port

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "data"
SENTENCE = "Avocado is expected to launch in the first quarter of 2026."


def stt_command(model_dir: Path, url: str, threads: int, data_dir: Path) -> list[str]:
    """wyoming-faster-whisper with a local model folder, decoding as the tutor does
    (English, greedy, int8). `--data-dir` is required; it only ever holds its cache."""
    return [
        sys.executable, "-m", "wyoming_faster_whisper", "--uri", url,
        "--model", str(model_dir), "--data-dir", str(data_dir), "--language", "en",
        "--beam-size", "1", "--compute-type", "int8", "--cpu-threads", str(threads),
        "--local-files-only",
    ]  # fmt: skip


def tts_command(voice: Path, url: str, data_dir: Path) -> list[str]:
    """wyoming-piper with a voice file: its folder is a data dir the server looks in, its
    name (without .onnx) the voice; the .onnx.json beside it is found there too."""
    return [
        sys.executable, "-m", "wyoming_piper", "--uri", url,
        "--voice", voice.stem, "--data-dir", str(voice.parent), "--download-dir", str(data_dir),
    ]  # fmt: skip


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    command: list[str]

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command[2]} exited: {self.log.read_text()[-2000:]}")
            if link.probe(self.url)["reachable"]:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.command[2]} did not answer within {timeout_s:g} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        """The same server again, on the same port (tests: a server back after a crash)."""
        self.stop()
        self.proc = _spawn(self.command, self.log)
        self.wait_ready()


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def start(command: list[str], url: str, log: Path) -> Server:
    server = Server(url, _spawn(command, log), log, command)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def speech_servers(settings: Settings, work: Path | None = None) -> Iterator[tuple[Server, Server]]:
    """(speech-to-text, text-to-speech) servers for the settings' STT model and voice,
    started together (they load in parallel) and stopped on the way out."""
    from server.core import catalog

    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="tutor-wyoming-"))
    model_dir = catalog.resolve("stt", settings.stt_model, settings.cache_dir)
    voice = catalog.resolve("tts", settings.tts_voice, settings.cache_dir)
    stt_url, tts_url = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
    for sub in ("stt", "tts"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    stt_cmd = stt_command(model_dir, stt_url, settings.threads, work / "stt")
    tts_cmd = tts_command(voice, tts_url, work / "tts")
    procs = [_spawn(stt_cmd, work / "stt.log"), _spawn(tts_cmd, work / "tts.log")]
    servers = (
        Server(stt_url, procs[0], work / "stt.log", stt_cmd),
        Server(tts_url, procs[1], work / "tts.log", tts_cmd),
    )
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        if own:
            shutil.rmtree(work, ignore_errors=True)


def fixture(name: str = "avocado_launch.piper.wav") -> np.ndarray:
    with wave.open(str(FIXTURES / name), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768


def fixture_seconds() -> float:
    return len(fixture()) / 16_000


@dataclass
class Timing:
    what: str
    median_ms: float
    p90_ms: float


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def run(settings: Settings, stt_url: str, tts_url: str, rounds: int = 10) -> list[Timing]:
    """In-process vs Wyoming, each measured `rounds` times, one after the other in turns
    of one call (so both see the same load)."""
    from server.core import catalog
    from server.engines import PiperSynthesizer, WhisperTranscriber
    from server.engines.wyoming_stt import WyomingTranscriber
    from server.engines.wyoming_tts import WyomingSynthesizer

    audio = fixture()
    model_dir = catalog.resolve("stt", settings.stt_model, settings.cache_dir)
    whisper = WhisperTranscriber(model_dir, settings.stt_model, settings.threads)
    remote_stt = WyomingTranscriber(stt_url, settings.stt_model, 30, 1)
    voice = catalog.resolve("tts", settings.tts_voice, settings.cache_dir)
    piper = PiperSynthesizer(voice, settings.tts_voice, settings.threads)
    remote_tts = WyomingSynthesizer(tts_url, settings.tts_voice, 30, 1)

    def plain_whisper() -> None:
        """The server's decoding, in-process: the whole 30 s window, greedy, English."""
        segments, _ = whisper.model.transcribe(audio, language="en", beam_size=1)
        list(segments)

    def tutor_whisper() -> str:
        return whisper.transcribe(audio)

    def remote_whisper() -> str:
        return remote_stt.transcribe(audio)

    def tutor_piper() -> bytes:
        return b"".join(piper.synthesize(SENTENCE))

    def remote_piper() -> bytes:
        return b"".join(remote_tts.synthesize(SENTENCE))

    cases: list[tuple[str, Callable[[], object]]] = [
        ("STT in-process (the tutor's: window cut to the utterance)", tutor_whisper),
        ("STT in-process, the server's decoding (30 s window)", plain_whisper),
        ("STT through wyoming-faster-whisper", remote_whisper),
        ("TTS in-process Piper, one sentence", tutor_piper),
        ("TTS through wyoming-piper, one sentence", remote_piper),
    ]
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _, fn in cases:
        fn()  # warm-up: the servers load lazily, the models' first call is slow
    for _ in range(rounds):
        for name, fn in cases:
            samples[name].append(_ms(fn))
    return [Timing(name, percentile(ms, 50), percentile(ms, 90)) for name, ms in samples.items()]
