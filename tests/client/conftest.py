"""Fixtures for the browser tests: the real server (real models) on a loopback port in a
background thread, and Debian's Chromium driven by Playwright with a fake microphone that
plays a WAV file once."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from server.core.config import Settings
from server.engines import Engines
from server.ops.cliutil import free_port
from server.web.app import create_app, serve_options
from tests.conftest import read_wav

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Chromium off the network in a sandbox, plus the fake microphone.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@contextmanager
def serve(engines: Engines, data_dir: Path, **settings: object) -> Iterator[str]:
    """The real app with `settings` (e.g. api_token), served by uvicorn in a thread on a
    free loopback port; yields its URL."""
    port = free_port()
    config = Settings(data_dir=data_dir, threads=2, host="127.0.0.1", port=port, **settings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config, engines), **serve_options(config, log_level="warning"))
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the tutor server did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def server_url(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app, served by uvicorn in a thread (one per test module)."""
    with serve(engines, tmp_path_factory.mktemp("browser-data")) as url:
        yield url


def spoken_wav(path: Path, parts: list[tuple[str | None, float]]) -> Path:
    """A 16 kHz mono WAV of fixtures and silences: [("chief_officer.piper.wav", 0), (None, 1.5)]
    means the fixture, then 1.5 s of silence."""
    chunks = []
    for name, seconds in parts:
        if name is None:
            chunks.append(np.zeros(int(16_000 * seconds), dtype=np.int16))
        else:
            samples, rate = read_wav(name)
            assert rate == 16_000
            chunks.append(samples)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.concatenate(chunks).tobytes())
    return path


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """browser(wav=None, width=1000, height=900) -> a Playwright page in a fresh Chromium
    whose fake microphone plays `wav` once (then silence). Fails the test on any uncaught
    error in the page's scripts."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    contexts = []
    page_errors: list[str] = []
    with playwright_api.sync_playwright() as pw:

        def launch(wav: Path | None = None, width: int = 1000, height: int = 900) -> object:
            args = list(CHROMIUM_ARGS)
            if wav is not None:
                args.append(f"--use-file-for-fake-audio-capture={wav}%noloop")
            ctx = pw.chromium.launch_persistent_context(
                tmp_path / f"chromium-{len(contexts)}",
                executable_path=str(CHROMIUM),
                headless=True,
                args=args,
                viewport={"width": width, "height": height},
            )
            contexts.append(ctx)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            return page

        yield launch
        for ctx in contexts:
            ctx.close()
    assert not page_errors, page_errors
