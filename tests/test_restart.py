"""kill -9 while an upload is pending, then a restart, with the real server in a
subprocess: the accepted upload ends in the library whole (listed, and answered from),
nothing is left pending, and the restarted server answers `/livez` before its index is
built (the index loads behind the learners).

The speech and LLM servers it names are not there (a closed port): the server starts in a
second, answers from the extractive reader, and the test needs no model but the index's.
No timing assertions: the order of the server's own log lines instead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.ops.cliutil import free_port

ALPACAS = (
    b"Alpaca farming in the Andes\n\nAlpacas are shorn once a year, in spring, for "
    b"their soft fleece. The fleece is spun into yarn by farmers in Peru and sold at the "
    b"market in Cusco every Sunday.\n"
)
TITLE = "Alpaca farming in the Andes"
WAIT = 120  # seconds anything may take before the test fails instead of hanging


def serve(data: Path, port: int, log: Path) -> subprocess.Popen:
    closed = free_port()  # nothing listens there
    env = {
        **os.environ,
        "TUTOR_LLM_URL": f"http://127.0.0.1:{closed}",
        "TUTOR_STT_URL": f"tcp://127.0.0.1:{closed}",
        "TUTOR_TTS_URL": f"tcp://127.0.0.1:{closed}",
        "TUTOR_BUILD_LESSONS": "false",
        "PYTHONUNBUFFERED": "1",  # the log's lines in the order they happened
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def first_livez(base: str, server: subprocess.Popen) -> None:
    """Ask /livez until it answers (the first answer is the one the log shows first)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/livez", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.02)
    raise AssertionError("the server never answered /livez")


def job_state(base: str, job_id: str) -> dict | None:
    """The upload's job once it ended; None if this server does not know it."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        reply = httpx.get(f"{base}/api/articles/jobs/{job_id}", timeout=WAIT)
        if reply.status_code == 404:
            return None
        if (job := reply.json())["state"] in ("ready", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job {job_id} never ended")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def line_of(log: list[str], text: str) -> int:
    found = [i for i, line in enumerate(log) if text in line]
    assert found, f"no log line with {text!r}"
    return found[0]


def test_kill_9_while_an_upload_is_pending_then_restart(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(data, port, tmp_path / "first.log")
    try:
        first_livez(base, server)
        accepted = httpx.post(
            f"{base}/api/articles", files={"file": ("alpacas.txt", ALPACAS)}, timeout=WAIT
        )
        assert accepted.status_code == 202, accepted.text
        server.send_signal(signal.SIGKILL)  # the upload is accepted, its add under way
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    job_id = accepted.json()["job"]
    left = sorted(p.name for p in (data / "uploads").iterdir())
    assert left == [f"{job_id}.json", f"{job_id}.upload"]  # pending when it was killed

    log_path = tmp_path / "second.log"
    server = serve(data, port, log_path)
    try:
        first_livez(base, server)
        job = job_state(base, job_id)  # added again, under the id the client was given
        assert job is not None and job["state"] == "ready", job
        assert job["article"]["title"] == TITLE
        listed = [a for a in httpx.get(f"{base}/api/articles").json() if a["title"] == TITLE]
        assert [a["id"] for a in listed] == [job["article"]["id"]]  # once, whole
        asked = httpx.post(
            f"{base}/api/ask", json={"question": "Where is the alpaca fleece sold?"}, timeout=WAIT
        ).json()
        assert asked["grounded"], asked
        assert {s["article_id"] for s in asked["sources"]} == {job["article"]["id"]}
    finally:
        stop(server)
    assert list((data / "uploads").iterdir()) == []  # nothing left pending

    log = log_path.read_text().splitlines()
    livez = line_of(log, '"GET /livez HTTP/1.1" 200')
    assert livez < line_of(log, "index ready:"), "/livez waited for the index"
    assert line_of(log, "index ready:") < line_of(log, f"adding upload {job_id}")
