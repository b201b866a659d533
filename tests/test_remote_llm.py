"""TUTOR_LLM_URL: answers from a real OpenAI-compatible server (`python -m llama_cpp.server`
with the packaged GGUF, one per module, on a free loopback port), and what a turn does
when the server is down or silent: the extractive answer and a typed error, never a hang."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.core import catalog
from server.core.config import Settings
from server.core.errors import EngineError
from server.engines import Engines, ModelWorker, OpenAIResponder
from server.ops.cliutil import free_port
from server.reason.answer.respond import answer
from server.session.services import Services, open_services
from server.web.app import create_app
from tests.fakes import FakeSynthesizer, FakeTranscriber

QUESTION = "When is Avocado expected to launch?"
MESSAGES = [{"role": "user", "content": "Say hello to the class."}]


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama_cpp.server serving the default model. Without `--interrupt_requests False`
    it ends the answer being streamed as soon as another request arrives."""
    model = catalog.resolve("llm", "smollm2-135m", tmp_path_factory.mktemp("cache"))
    port = free_port()
    log = (tmp_path_factory.mktemp("llm-server") / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
        + ["--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--seed", "0"]
        + ["--interrupt_requests", "False"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # it loads in a second or two; give a busy machine a minute
            assert proc.poll() is None, f"llama_cpp.server exited: see {log.name}"
            try:
                if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("llama_cpp.server did not start within a minute")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def remote(tmp_path: Path, url: str, **settings: object) -> Services:
    """The answer path as `tutor ask` opens it, with the LLM at `url` (short answers: the
    test is about the path, not the prose)."""
    settings = {"max_answer_tokens": 32} | settings
    config = Settings(data_dir=tmp_path / "data", threads=2, llm_url=url, **settings)
    return open_services(config, roles=("llm",))


def test_a_question_is_answered_through_the_server(llm_url: str, tmp_path: Path) -> None:
    services = remote(tmp_path, llm_url + "/v1/")  # an OpenAI-style base URL works too
    responder = services.engines.responder
    assert isinstance(responder, OpenAIResponder) and responder.address == llm_url
    result = asyncio.run(answer(services.answerer, QUESTION))
    assert result.grounded and result.sources
    assert any(year in result.text for year in ("2025", "2026")), result.text
    assert "first_token" in result.timings  # the server's pieces reached the Answerer
    assert responder.failures.last is None
    services.close()


def test_two_requests_are_in_flight_at_once(llm_url: str) -> None:
    """The worker in front of a server has a slot per request it may send: two answers
    stream at once (the barrier only opens when both calls are on their threads), and one
    answer in flight does not make the next learner's spoken turn give up the LLM."""
    responder = OpenAIResponder(llm_url, "smollm2-135m", timeout_s=60, parallel=2)
    worker = ModelWorker(responder, "llm", slots=responder.parallel)
    both = threading.Barrier(2, timeout=60)

    def together(cancel: threading.Event) -> Iterator[str]:
        both.wait()
        return responder.stream(MESSAGES, 12, cancel)

    async def ask() -> str:
        return "".join([piece async for piece in worker.stream(together)])

    async def main() -> list[str]:
        first = asyncio.create_task(ask())
        await asyncio.sleep(0)
        assert worker.in_flight == 1 and worker.pending == 0  # a slot is free
        return await asyncio.gather(first, ask())

    replies = asyncio.run(main())
    assert all(reply.strip() for reply in replies), replies
    assert worker.in_flight == 0
    worker.close()
    responder.close()


def test_a_closed_port_gives_the_extractive_answer_and_a_typed_error(tmp_path: Path) -> None:
    services = remote(tmp_path, f"http://127.0.0.1:{free_port()}")
    result = asyncio.run(answer(services.answerer, QUESTION))
    assert result.grounded and result.sources and result.fallback
    assert any(year in result.text for year in ("2025", "2026")), result.text
    error = services.engines.responder.failures.last
    assert isinstance(error, EngineError) and error.code == "llm_unreachable"
    # The worker itself (lessons use it) raises the typed error to its caller.
    with pytest.raises(EngineError) as raised:

        async def drain() -> None:
            llm = services.engines.llm
            async for _ in llm.stream(lambda c: llm.engine.stream(MESSAGES, 8, c)):
                pass

        asyncio.run(drain())
    assert raised.value.code == "llm_unreachable"
    services.close()


def test_a_silent_server_times_out_into_the_extractive_answer(tmp_path: Path) -> None:
    """A server that accepts the connection and never replies: the read timeout ends the
    wait, and the turn is answered from the articles."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        services = remote(tmp_path, f"http://127.0.0.1:{port}", llm_timeout_s=0.5)
        result = asyncio.run(answer(services.answerer, QUESTION))
    assert result.grounded and result.sources and result.fallback
    assert services.engines.responder.failures.last.code == "llm_timeout"
    services.close()


def test_a_server_that_only_keeps_the_stream_alive_times_out(tmp_path: Path) -> None:
    """Keep-alive comments reset the socket's read timeout; the wait for text still ends."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Pinging(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                for _ in range(100):  # 10 s at most, whatever the client does
                    self.wfile.write(b": ping\r\n\r\n")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass  # the tutor hung up: what it should do

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pinging)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        services = remote(tmp_path, url, llm_timeout_s=0.5)
        result = asyncio.run(answer(services.answerer, QUESTION))
    finally:
        server.shutdown()
        server.server_close()
    assert result.grounded and result.sources and result.fallback
    assert services.engines.responder.failures.last.code == "llm_timeout"
    services.close()


def test_healthz_reports_each_engine_s_kind_address_and_reachability(
    llm_url: str, settings: Settings
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    for url, reachable in ((llm_url, True), (down, False)):
        responder = OpenAIResponder(url, "smollm2-135m", timeout_s=5, parallel=2)
        engines = Engines(FakeTranscriber(), responder, FakeSynthesizer())
        with TestClient(create_app(settings, engines)) as client:
            models = client.get("/healthz").json()["models"]
        llm = models["llm"]
        assert (llm["kind"], llm["address"], llm["reachable"]) == ("openai", url, reachable)
        assert models["stt"]["kind"] == "in-process"
        assert engines.llm.slots == 2
        engines.close()


def test_a_url_is_checked_and_never_resolved_through_the_catalog(tmp_path: Path) -> None:
    config = Settings(data_dir=tmp_path, llm_url="http://gpu-box:8000/v1", llm_model="qwen-7b")
    assert config.llm_url == "http://gpu-box:8000"
    assert config.check().llm is None  # "qwen-7b" is the server's name, not a catalog entry
    with pytest.raises(ValueError, match="llm_url"):
        Settings(llm_url="gpu-box:8000")
    with pytest.raises(ValueError, match="shown by /healthz"):
        Settings(llm_url="http://user:secret@gpu-box:8000")
