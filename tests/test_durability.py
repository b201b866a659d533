"""kill -9 in the middle of a turn: every turn acknowledged with answer.done survives, and
the database is intact."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

from server.ops.cliutil import free_port


def start(data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def test_acknowledged_turns_survive_kill_9(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    server = start(data, port)
    acknowledged: list[str] = []
    try:
        with connect(f"ws://127.0.0.1:{port}/ws/chat", max_size=None) as ws:
            ws.send(json.dumps({"type": "hello"}))
            ready = json.loads(ws.recv())
            session, secret = ready["session_id"], ready["session_secret"]
            for question in (
                "What is Avocado?",
                "How was Llama 4 received?",
                "What happened to Stability AI?",
            ):
                ws.send(json.dumps({"type": "text", "text": question}))
                while (event := json.loads(ws.recv()))["type"] != "answer.done":
                    pass
                acknowledged.append(event["turn_id"])
            ws.send(json.dumps({"type": "text", "text": "When is Avocado expected to launch?"}))
            server.send_signal(signal.SIGKILL)  # mid-turn: nothing gets to clean up
            server.wait(timeout=30)
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)

    server = start(data, port)
    try:
        turns = httpx.get(
            f"http://127.0.0.1:{port}/api/sessions/{session}",
            headers={"X-Session-Secret": secret},
        ).json()["turns"]
        assert [t["turn_id"] for t in turns][: len(acknowledged)] == acknowledged
        assert all(t["answer"] and t["sources"] for t in turns[:3])
    finally:
        server.terminate()
        server.wait(timeout=30)
    db = sqlite3.connect(data / "tutor.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
