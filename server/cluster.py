"""`tutor cluster up`: the scale-out deployment on one machine, to try it and to test it.

Each part is its own process, as it would be on its own machine, and this module is only
the process group that starts, watches and stops them:

    postgres          the database every tutor host shares (Debian's postgresql; initdb
                      once in <data>/postgres, run as the `postgres` user when root)
    llm-1, llm-2      llama_cpp.server with the packaged GGUF (OpenAI-compatible API)
    stt, tts          wyoming-faster-whisper and wyoming-piper with the packaged model and
                      voice (the hosts load no speech model of their own)
    tutor-1, tutor-2  tutor hosts (`tutor serve`): no state of their own, every session
                      and article in the database
    haproxy           on --port: leastconn over the tutor hosts (websocket tunnels,
                      /livez checks, a connection cap per host); on an inner port,
                      leastconn over the LLM replicas, so a replica that dies is routed
                      around

When every part answers its health check it prints one JSON line, `{"ready": true, "url",
"components": [{"name", "pid", "port"}, ...]}`. A part that exits is started again after
a second (a supervisor's job; it is logged, with its log file). Ctrl-C or SIGTERM stops
them all, the tutor hosts first and the database last. Each part's output goes to
<data>/logs/<name>.log.

Why a small process group rather than honcho or supervisord: the parts must start in
order (the database before the hosts), the group must know when all are healthy, and
the tests need the pids; each of those tools would still need this code around it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from server import catalog
from server.cliutil import free_port
from server.config import Settings
from server.errors import TutorError
from server.pgserver import as_user, bindir, give, login, server_user

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 300  # first start: Postgres initdb, index builds, model loads on 2 cores
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 10.0


def http_ok(url: str, host: str = "127.0.0.1") -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2, headers={"Host": host}).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def tcp_open(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return probe


@dataclass
class Component:
    name: str
    argv: list[str]
    port: int
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this user (Postgres refuses to run as root)
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None
    exited_at: float | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.proc.pid if self.proc else None, "port": self.port}


class Cluster:
    def __init__(
        self, settings: Settings, port: int, data_dir: Path, hosts: int = 2, llm_replicas: int = 2
    ) -> None:
        self.settings = settings
        self.port = port
        self.data_dir = data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.components: list[Component] = []
        self.stopping = False
        self.hosts = hosts
        self.llm_replicas = llm_replicas

    # --- the parts -----------------------------------------------------------------------

    def plan(self) -> None:
        """Every part, its command line and its health check, in start order."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.components.append(self.postgres())
        self.llm_port = free_port()
        model = catalog.resolve("llm", self.settings.llm_model, self.settings.cache_dir)
        for n in range(1, self.llm_replicas + 1):
            port = free_port()
            self.components.append(
                Component(
                    f"llm-{n}",
                    [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
                    + ["--host", "127.0.0.1", "--port", str(port)]
                    + ["--n_ctx", str(self.settings.llm_context), "--n_threads", "1"]
                    # Without this it ends the answer it is streaming when another arrives.
                    + ["--interrupt_requests", "False"],
                    port,
                    http_ok(f"http://127.0.0.1:{port}/v1/models"),
                )
            )
        # Speech: one Wyoming server each, with the packaged model and voice.
        from server.bench.wyoming import stt_command, tts_command
        from server.engines.wyoming_link import probe

        self.stt_port, self.tts_port = free_port(), free_port()
        stt_url, tts_url = f"tcp://127.0.0.1:{self.stt_port}", f"tcp://127.0.0.1:{self.tts_port}"
        stt_model = catalog.resolve("stt", self.settings.stt_model, self.settings.cache_dir)
        voice = catalog.resolve("tts", self.settings.tts_voice, self.settings.cache_dir)
        self.components += [
            Component(
                "stt",
                stt_command(stt_model, stt_url, 1, self.data_dir / "stt"),
                self.stt_port,
                lambda: bool(probe(stt_url)["reachable"]),
            ),
            Component(
                "tts",
                tts_command(voice, tts_url, self.data_dir / "tts"),
                self.tts_port,
                lambda: bool(probe(tts_url)["reachable"]),
            ),
        ]
        self.host_ports = [free_port() for _ in range(self.hosts)]
        for n, port in enumerate(self.host_ports, 1):
            self.components.append(
                Component(
                    f"tutor-{n}",
                    [sys.executable, "-m", "server", "serve"],
                    port,
                    http_ok(f"http://127.0.0.1:{port}/livez"),
                    env=self.host_env(n, port),
                )
            )
        self.components.append(
            Component(
                "haproxy",
                [haproxy(), "-db", "-f", str(self.write_haproxy_config())],
                self.port,
                http_ok(f"http://127.0.0.1:{self.port}/livez"),
            )
        )

    def postgres(self) -> Component:
        """The database: initdb once (its data stays between runs), then `postgres` in
        the foreground, so this group sees it exit like any other part."""
        owner = server_user()
        home = self.postgres_home(owner)
        data, sockets = home / "data", home / "run"
        for folder in (home, sockets):
            folder.mkdir(exist_ok=True)
            give(folder, owner)
        programs = bindir()
        self.pg_user = login(owner)
        if not (data / "PG_VERSION").exists():
            log.info("creating the database cluster in %s", data)
            subprocess.run(
                [*as_user(owner), str(programs / "initdb"), "-D", str(data)]
                + ["-U", self.pg_user, "--auth=trust", "-E", "UTF8", "--no-locale"],
                check=True,
                capture_output=True,
            )
        port = free_port()
        self.database_url = f"postgresql://{self.pg_user}@127.0.0.1:{port}/tutor"
        return Component(
            "postgres",
            [str(programs / "postgres"), "-D", str(data), "-c", f"port={port}"]
            + ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}"],
            port,
            tcp_open(port),
            user=owner,
            stop_signal=signal.SIGINT,  # Postgres's "fast" shutdown: roll back, then stop
        )

    def postgres_home(self, owner: str | None) -> Path:
        """<data>/postgres, when the user the server runs as can reach it; otherwise (a
        data folder under root's home, say) a folder of its own under /var/tmp, named
        after the data folder so the next run finds the same database."""
        home = self.data_dir / "postgres"
        if owner is None:
            return home
        reach = subprocess.run([*as_user(owner), "test", "-x", str(self.data_dir)])
        if reach.returncode == 0:
            return home
        import hashlib

        key = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        elsewhere = Path("/var/tmp") / f"tutor-postgres-{key}"
        log.info("%s cannot reach %s: the database lives in %s", owner, self.data_dir, elsewhere)
        return elsewhere

    def create_database(self) -> None:
        """The tutor's database, once Postgres answers (the hosts make its tables)."""
        import psycopg

        admin = self.database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as db:
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = 'tutor'").fetchone():
                db.execute("CREATE DATABASE tutor")

    def host_env(self, n: int, port: int) -> dict[str, str]:
        """A tutor host's settings: the shared parts' addresses, and its own port and name.
        The user's own TUTOR_* settings (a token, limits) pass through to every host."""
        public = [f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"]
        return {
            "TUTOR_HOST": "127.0.0.1",
            "TUTOR_PORT": str(port),
            "TUTOR_HOST_NAME": f"tutor-{n}",
            # Everything the tutor keeps is in the shared database; the host's own folder
            # holds only its search index, made from it.
            "TUTOR_DATABASE_URL": self.database_url,
            "TUTOR_DATA_DIR": str(self.data_dir / f"tutor-{n}"),
            "TUTOR_NARRATION_DIR": str(self.data_dir / "narration"),
            "TUTOR_LLM_URL": f"http://127.0.0.1:{self.llm_port}",
            "TUTOR_LLM_PARALLEL": str(2 * self.llm_replicas),
            "TUTOR_STT_URL": f"tcp://127.0.0.1:{self.stt_port}",
            "TUTOR_TTS_URL": f"tcp://127.0.0.1:{self.tts_port}",
            "TUTOR_THREADS": "1",
            "TUTOR_ALLOWED_ORIGINS": ",".join(public),
            # HAProxy says who the client is (X-Forwarded-For): per-address limits apply
            # to learners, not to the proxy.
            "TUTOR_TRUSTED_PROXIES": "127.0.0.1",
            "TUTOR_LIBRARY_POLL_S": "1",
            # One host builds lessons (into the shared database and narration folder);
            # the others serve them. Two building the same lesson is work thrown away.
            "TUTOR_BUILD_LESSONS": "true" if n == 1 else "false",
        }

    def write_haproxy_config(self) -> Path:
        path = self.data_dir / "haproxy.cfg"
        per_host = max(2, self.settings.max_sessions * 2)
        tutors = "\n".join(
            f"    server tutor-{n} 127.0.0.1:{port} check inter 1s fall 3 rise 1 maxconn {per_host}"
            for n, port in enumerate(self.host_ports, 1)
        )
        llms = "\n".join(
            f"    server {c.name} 127.0.0.1:{c.port} check inter 1s fall 3 rise 1 maxconn 4"
            for c in self.components
            if c.name.startswith("llm-")
        )
        path.write_text(
            HAPROXY_CONFIG.format(port=self.port, llm_port=self.llm_port, tutors=tutors, llms=llms)
        )
        return path

    # --- running -------------------------------------------------------------------------

    def start(self, component: Component) -> None:
        out = (self.logs / f"{component.name}.log").open("ab")
        argv = [*as_user(component.user), *component.argv]
        # The parts run the same tutor code as the command that started them, wherever
        # they run from (their working folder is the data folder).
        code = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (code, os.environ.get("PYTHONPATH", "")) if p)
        component.proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": path, **component.env},
            cwd=self.data_dir,
            start_new_session=True,  # Ctrl-C reaches the group through us, in order
        )
        out.close()
        component.exited_at = None
        log.info("started %s (pid %d, port %d)", component.name, component.proc.pid, component.port)

    def up(self, on_ready: Callable[[dict[str, Any]], None]) -> None:
        """Start everything, report once healthy, then supervise until stopped."""
        self.plan()
        deadline = time.monotonic() + READY_TIMEOUT_S
        database, rest = self.components[0], self.components[1:]
        self.start(database)
        if not self.wait_healthy([database], deadline):
            return
        self.create_database()
        for component in rest:
            self.start(component)
        if not self.wait_healthy(rest, deadline):
            return
        on_ready(
            {
                "ready": True,
                "url": f"http://127.0.0.1:{self.port}",
                "components": [c.describe() for c in self.components],
            }
        )
        while not self.stopping:
            self.check_exits()
            time.sleep(0.2)

    def wait_healthy(self, parts: list[Component], deadline: float) -> bool:
        """Until every part answers its check (False: stopped meanwhile)."""
        waiting = list(parts)
        while waiting:
            if self.stopping:
                return False
            self.check_exits(starting=True)
            waiting = [c for c in waiting if not c.ready()]
            if time.monotonic() > deadline:
                names = ", ".join(c.name for c in waiting)
                raise TutorError(
                    f"not healthy within {READY_TIMEOUT_S} s: {names} (see {self.logs})",
                    code="cluster_not_ready",
                )
            time.sleep(0.2)
        return True

    def check_exits(self, starting: bool = False) -> None:
        """A part that exited is started again a second later (not while stopping). While
        starting, a part that exits at once is a broken command line: stop with its log."""
        for component in self.components:
            proc = component.proc
            if self.stopping or proc is None or proc.poll() is None:
                continue
            if starting:
                raise TutorError(
                    f"{component.name} exited with {proc.returncode} while starting: see "
                    f"{self.logs / (component.name + '.log')}",
                    code="cluster_not_ready",
                )
            now = time.monotonic()
            if component.exited_at is None:
                component.exited_at = now
                log.warning("%s exited with %s; restarting it", component.name, proc.returncode)
            elif now - component.exited_at >= RESTART_DELAY_S:
                self.start(component)

    def stop(self) -> None:
        """Everything this group started, the entry first and the database last."""
        self.stopping = True
        for component in reversed(self.components):
            if component.proc and component.proc.poll() is None:
                try:
                    os.killpg(component.proc.pid, component.stop_signal)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for component in reversed(self.components):
            if component.proc is None:
                continue
            try:
                component.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop; killing it", component.name)
                try:
                    os.killpg(component.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                component.proc.wait()


def haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if not found:
        raise TutorError(
            "haproxy is not installed: run `make cluster` (it installs it) or "
            "`apt-get install haproxy`",
            code="cluster_not_ready",
        )
    return found


# leastconn: a voice session is a long websocket, so "fewest open connections" is "fewest
# learners". `timeout tunnel` is how long an idle websocket may stay open once upgraded
# (the tutor closes idle sessions itself sooner). `option redispatch` + `retries`: a
# connection to a host that has just died goes to another instead of failing. The LLM
# replicas get the same treatment on an inner port the tutor hosts use as TUTOR_LLM_URL.
HAPROXY_CONFIG = """\
global
    maxconn 4096

defaults
    mode http
    option httplog
    option forwardfor
    option redispatch
    retries 2
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout queue 30s
    # A check may wait 3 s and a host is down after 3 failed in a row: on a busy machine
    # a loaded host answers slowly, and marking it down would only move its load.
    timeout check 3s

frontend tutor
    bind 127.0.0.1:{port}
    default_backend tutor_hosts

backend tutor_hosts
    balance leastconn
    option httpchk
    http-check send meth GET uri /livez ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
{tutors}

frontend llm
    bind 127.0.0.1:{llm_port}
    default_backend llm_replicas

backend llm_replicas
    balance leastconn
    option httpchk
    http-check send meth GET uri /v1/models ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
{llms}
"""


def run(settings: Settings, port: int, data_dir: Path) -> None:
    """`tutor cluster up`: start, print the JSON line, supervise; stop on SIGINT/SIGTERM."""
    cluster = Cluster(settings, port, data_dir)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per health probe

    def stop(signum: int, _frame: Any) -> None:
        cluster.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        cluster.up(lambda line: print(json.dumps(line), flush=True))
    finally:
        cluster.stop()
