"""`tutor cluster up`, for real: HAProxy in front of two tutor hosts, two llama_cpp.server
replicas behind the hosts, every part its own process. What must hold when parts die:
a session goes on on the other host, answers go on with one LLM replica, and Ctrl-C stops
everything the group started. What must hold against another user of the machine: the
database wants a password and the tutor's role is no superuser, the LLM servers want
their key, the speech servers have no port, and a forged X-Forwarded-For through HAProxy
is one client still. No timing assertions: waits are bounded far past need."""

from __future__ import annotations

import errno
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from server.engines.wyoming_link import probe
from server.ops.cliutil import free_port
from tests.test_voice import utterance

START_S = 300  # a cold start builds the index and loads models on 2 busy cores
RATE_LIMIT = 30  # questions per client per hour, for the whole module (see the fixture)
SECRETS = {"postgres-admin", "postgres-tutor", "llm-api-key", "proxy-secret"}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that died but was not reaped yet is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    # A folder the `postgres` user can reach (pytest's own are its owner's alone): the
    # cluster's database lives in it, and goes with it.
    data = Path(tempfile.mkdtemp(prefix="tutor-cluster-"))
    data.chmod(0o755)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "cluster", "up", "--port", str(port)]
        + ["--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=(data / "cluster.log").open("wb"),
        # Per hour, not per minute, so that the rate-limit test's outcome does not hang on
        # how fast this machine answers (it reaches every host: TUTOR_* settings do).
        env={**os.environ, "TUTOR_QUESTION_RATE_LIMIT": f"{RATE_LIMIT}/hour"},
    )
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], START_S)
        line = proc.stdout.readline() if ready else b""
        assert line, f"no ready line within {START_S} s (exit {proc.poll()}); see {data}/logs"
        info = json.loads(line)
        assert info["ready"] and info["url"] == f"http://127.0.0.1:{port}"
        yield {**info, "data": data, "proc": proc}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def pid_of(cluster: dict[str, Any], name: str) -> int:
    return next(c["pid"] for c in cluster["components"] if c["name"] == name)


def part(cluster: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in cluster["components"] if c["name"] == name)


def secret(cluster: dict[str, Any], name: str) -> str:
    return (cluster["data"] / "secrets" / name).read_text().strip()


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def listens_on_tcp(pid: int) -> bool:
    """Whether the process holds a listening TCP socket (IPv4 or IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                return True
    return False


def connect_as(user: str, path: str) -> int:
    """The errno of connecting to the Unix socket `path` as `user` (0: connected), from a
    child process that becomes that user."""
    entry = pwd.getpwnam(user)
    pid = os.fork()
    if pid == 0:  # the child: its exit status says how it went
        code = 1
        try:
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            socket.socket(socket.AF_UNIX).connect(path)
            code = 0
        except OSError as exc:
            code = exc.errno or 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# --- locked down: what another user of the machine can reach ---------------------------


def test_the_cluster_keeps_its_credentials_to_itself(cluster: dict[str, Any]) -> None:
    """Generated once into <data>/secrets (0700, each file 0600); HAProxy's config, which
    holds two of them, is 0600; none is on any part's command line (anyone's to read)."""
    folder = cluster["data"] / "secrets"
    assert mode(folder) == 0o700
    assert {p.name for p in folder.iterdir()} == SECRETS
    assert all(mode(folder / name) == 0o600 for name in SECRETS)
    assert mode(cluster["data"] / "haproxy.cfg") == 0o600
    assert mode(cluster["data"] / "logs") == 0o700
    values = [secret(cluster, name) for name in SECRETS]
    assert all(len(value) >= 40 for value in values)  # 32 random bytes, URL-safe
    for component in cluster["components"]:
        argv = Path(f"/proc/{component['pid']}/cmdline").read_bytes().decode()
        assert not [v for v in values if v in argv], component["name"]


def test_the_database_wants_a_password_and_the_tutor_is_no_superuser(
    cluster: dict[str, Any],
) -> None:
    port = part(cluster, "postgres")["port"]
    for role in ("postgres", "tutor"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://{role}@127.0.0.1:{port}/tutor", connect_timeout=10)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://{role}:guess@127.0.0.1:{port}/tutor", connect_timeout=10)
    url = f"postgresql://tutor:{secret(cluster, 'postgres-tutor')}@127.0.0.1:{port}/tutor"
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as db:
        rights = db.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert rights == (False, False, False)
        # What a superuser could do: run a program as the server's user.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("COPY (SELECT 1) TO PROGRAM 'id'")


def test_the_llm_servers_want_their_key(cluster: dict[str, Any]) -> None:
    body = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 1}
    key = secret(cluster, "llm-api-key")
    for name in ("llm-1", "llm-2"):
        base = f"http://127.0.0.1:{part(cluster, name)['port']}"
        for headers in ({}, {"Authorization": "Bearer guess"}):
            reply = httpx.post(
                f"{base}/v1/chat/completions", json=body, headers=headers, timeout=60
            )
            assert reply.status_code == 401, (name, reply.text)
        assert httpx.get(f"{base}/v1/models", timeout=60).status_code == 401
        ok = httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert ok.status_code == 200


def test_the_speech_servers_have_no_port_and_a_private_socket(cluster: dict[str, Any]) -> None:
    """No TCP port to send a Describe to; a socket in a folder only the cluster's user
    (the hosts') may enter: that user gets an answer, another cannot connect."""
    for name in ("stt", "tts"):
        component = part(cluster, name)
        assert component["port"] is None and not listens_on_tcp(component["pid"])
        sock = Path(component["socket"])
        assert mode(sock.parent) == 0o700 and sock.parent.stat().st_uid == os.geteuid()
        assert probe(f"unix://{sock}")["reachable"]
        if os.geteuid() == 0:  # (as another user, it cannot become a third)
            assert connect_as("nobody", str(sock)) == errno.EACCES


def test_a_forged_forwarded_for_through_haproxy_is_one_client(cluster: dict[str, Any]) -> None:
    """45 questions, each claiming another address in X-Forwarded-For (and a guessed
    secret header): HAProxy drops both and says who the client is, and the client stays
    on one host, which counts all of them against that one address: 30 answered, then
    refused. From 127.0.0.2, a client of its own (the other tests ask from 127.0.0.1)."""
    statuses = []
    local = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=cluster["url"], transport=local, timeout=120) as client:
        for n in range(45):
            reply = client.post(
                "/api/ask",
                json={"question": "What is the capital of Mars?"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}", "X-Tutor-Proxy": "guess"},
            )
            statuses.append(reply.status_code)
    assert statuses == [200] * RATE_LIMIT + [429] * (45 - RATE_LIMIT), statuses


# --- what must hold when parts die -------------------------------------------------------


def chat(url: str, text: str, **hello: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One typed turn through HAProxy, as a browser on the public port would: (ready,
    answer.done)."""
    with connect(url.replace("http", "ws") + "/ws/chat", origin=url, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "hello", **hello}))
        ready = json.loads(ws.recv(timeout=30))
        assert ready["type"] == "ready", ready
        ws.send(json.dumps({"type": "text", "text": text}))
        while True:
            event = json.loads(ws.recv(timeout=120))
            assert event["type"] != "error", event
            if event["type"] == "answer.done":
                return ready, event


def speak(ws: Any, audio: bytes) -> list[dict[str, Any]]:
    """Stream one utterance at microphone pace; the JSON events up to the turn's end (its
    metrics, or a typed error)."""
    for offset in range(0, len(audio), 640):  # 20 ms frames
        ws.send(audio[offset : offset + 640])
        time.sleep(0.02)
    events = []
    while True:
        message = ws.recv(timeout=120)
        if isinstance(message, bytes):
            continue
        events.append(json.loads(message))
        if events[-1]["type"] in ("turn.metrics", "error"):
            return events


def test_a_voice_turn_goes_on_after_the_speech_server_restarts(cluster: dict[str, Any]) -> None:
    """Speech runs on the Wyoming servers behind every host. The STT server frozen: the
    turn in flight gets a typed error; killed, the group starts it again, and the next
    turn in the same session is heard and answered."""
    url = cluster["url"]
    stt = next(c for c in cluster["components"] if c["name"] == "stt")
    question = utterance("avocado_launch.piper.wav")
    with connect(url.replace("http", "ws") + "/ws/voice", origin=url, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "hello"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        os.kill(stt["pid"], signal.SIGSTOP)
        try:
            events = speak(ws, question)
        finally:
            os.kill(stt["pid"], signal.SIGKILL)  # and the group restarts it
        assert events[-1]["type"] == "error" and events[-1]["code"].startswith("stt_"), events
        deadline = time.monotonic() + 60
        while not probe(f"unix://{stt['socket']}")["reachable"]:
            assert time.monotonic() < deadline, "the STT server was not started again"
            time.sleep(0.2)
        events = speak(ws, question)
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, events
    assert "avocado" in events[kinds.index("transcript.final")]["text"].lower()
    assert events[kinds.index("answer.done")]["grounded"]


def test_a_session_goes_on_on_the_other_host_when_its_host_is_killed(
    cluster: dict[str, Any],
) -> None:
    url = cluster["url"]
    first_q = "When is Avocado expected to launch?"
    ready, first = chat(url, first_q)
    assert first["grounded"] and ready["host"] in ("tutor-1", "tutor-2")
    os.kill(pid_of(cluster, ready["host"]), signal.SIGKILL)

    # The learner's client reconnects with its session; HAProxy sends it to the host
    # still alive (retrying past the dead one), which reads the history from the
    # database: "it" is Avocado only through the first turn.
    again, follow = chat(
        url,
        "Who is leading it?",
        session_id=ready["session_id"],
        session_secret=ready["session_secret"],
    )
    assert again["resumed"] and again["session_id"] == ready["session_id"]
    assert again["host"] != ready["host"]
    assert follow["grounded"] and "Wang" in follow["text"], follow["text"]
    turns = httpx.get(
        f"{url}/api/sessions/{ready['session_id']}",
        headers={"X-Session-Secret": ready["session_secret"]},
        timeout=30,
    ).json()["turns"]
    assert [t["question"] for t in turns] == [first_q, "Who is leading it?"]


def test_answers_go_on_from_the_llm_when_one_replica_is_killed(
    cluster: dict[str, Any],
) -> None:
    os.kill(pid_of(cluster, "llm-1"), signal.SIGKILL)
    for question in ("Who leads Meta Superintelligence Labs?", "What is Mango?"):
        reply = httpx.post(
            f"{cluster['url']}/api/ask", json={"question": question}, timeout=120
        ).json()
        assert reply["grounded"], reply
        # The LLM streamed an answer (through the replica left): a first token was
        # timed. Whether its answer passed verification is another matter.
        assert "first_token" in reply["timings"], reply["timings"]


def test_ctrl_c_stops_every_part_it_started(cluster: dict[str, Any]) -> None:
    """Last in this module: it stops the cluster."""
    pids = [c["pid"] for c in cluster["components"]]
    proc = cluster["proc"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in pids if alive(pid)]
    log = Path(cluster["data"] / "logs" / "haproxy.log")
    assert log.exists()
