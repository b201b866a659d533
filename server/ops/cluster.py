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
                      /livez checks, a connection cap per host, a client kept on one
                      host); on an inner port, leastconn over the LLM replicas, so a
                      replica that dies is routed around

Locked down by default, for a machine shared with other users: only HAProxy's --port is
open to anyone. Postgres wants a password (scram-sha-256) and the tutor's role is not a
superuser; the LLM servers want a key; the speech servers listen on Unix sockets in a
folder of mode 0700; the hosts believe HAProxy's `X-Forwarded-For` only with a secret
header it adds. Every password, key and secret is generated once per data folder into
<data>/secrets (mode 0700, a file of mode 0600 each) and reaches the parts through their
environment, never their command line (which `ps` shows to everyone).

When every part answers its health check it prints one JSON line, `{"ready": true, "url",
"components": [{"name", "pid", "port"}, ...]}` (a part on a Unix socket has `"port":
null` and its `"socket"`). A part that exits is started again after a second (a
supervisor's job; it is logged, with its log file). Ctrl-C or SIGTERM stops them all, the
tutor hosts first and the database last. Each part's output goes to
<data>/logs/<name>.log (a folder of mode 0700).

Why a small process group rather than honcho or supervisord: the parts must start in
order (the database before the hosts), the group must know when all are healthy, and
the tests need the pids; each of those tools would still need this code around it."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from server.core import catalog
from server.core.config import Settings
from server.core.errors import TutorError
from server.ops.cliutil import free_port
from server.storage.pgserver import as_user, bindir, give, server_user

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 300  # first start: Postgres initdb, index builds, model loads on 2 cores
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 10.0
ADMIN_ROLE = "postgres"  # the database's superuser: the cluster's own, to make the rest
TUTOR_ROLE = "tutor"  # the hosts' role: owns the tutor database, nothing more
SOCKET_PATH_MAX = 100  # a Unix socket's path must fit in 108 bytes (sun_path)


def http_ok(url: str, host: str = "127.0.0.1", key: str | None = None) -> Callable[[], bool]:
    headers = {"Host": host} | ({"Authorization": f"Bearer {key}"} if key else {})

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2, headers=headers).status_code == 200
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


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by its owner alone (0600), from the
    first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        out.write(text)


class Secrets:
    """The cluster's generated credentials, one file each in `folder` (mode 0700, each
    file 0600), made on first use and kept: the database's passwords must outlive a run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)

    def exists(self, name: str) -> bool:
        return (self.folder / name).exists()

    def get(self, name: str, renew: bool = False) -> str:
        """The secret called `name` (32 random bytes, URL-safe), made when missing."""
        path = self.folder / name
        if path.exists() and not renew:
            path.chmod(0o600)
            return path.read_text().strip()
        value = secrets.token_urlsafe(32)
        write_private(path, value + "\n")
        return value


@dataclass
class Component:
    name: str
    argv: list[str]
    port: int | None  # None: it listens on a Unix socket only
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this user (Postgres refuses to run as root)
    stop_signal: int = signal.SIGTERM
    socket: str | None = None  # its Unix socket, in the cluster's private folder
    proc: subprocess.Popen[bytes] | None = None
    exited_at: float | None = None

    def describe(self) -> dict[str, Any]:
        described = {
            "name": self.name,
            "pid": self.proc.pid if self.proc else None,
            "port": self.port,
        }
        return described | ({"socket": self.socket} if self.socket else {})


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
        self.own_run_dir: Path | None = None  # made under /tmp, removed at stop

    # --- the parts -----------------------------------------------------------------------

    def plan(self) -> None:
        """Every part, its command line and its health check, in start order."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(mode=0o700, exist_ok=True)
        self.logs.chmod(0o700)  # the hosts log answers, and what learners asked
        self.secrets = Secrets(self.data_dir / "secrets")
        self.llm_key = self.secrets.get("llm-api-key")
        self.proxy_secret = self.secrets.get("proxy-secret")
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
                    http_ok(f"http://127.0.0.1:{port}/v1/models", key=self.llm_key),
                    # Its `--api_key`, from the environment (its settings read API_KEY):
                    # a command line is anyone's to read in /proc, an environment is not.
                    env={"API_KEY": self.llm_key},
                )
            )
        # Speech: one Wyoming server each, with the packaged model and voice, on a Unix
        # socket in a folder only this user (and root) may enter: Wyoming has no keys.
        from server.engines.wyoming_link import probe
        from server.ops.bench.wyoming import stt_command, tts_command

        run = self.run_dir()
        self.stt_url, self.tts_url = f"unix://{run / 'stt.sock'}", f"unix://{run / 'tts.sock'}"
        stt_url, tts_url = self.stt_url, self.tts_url
        stt_model = catalog.resolve("stt", self.settings.stt_model, self.settings.cache_dir)
        voice = catalog.resolve("tts", self.settings.tts_voice, self.settings.cache_dir)
        self.components += [
            Component(
                "stt",
                stt_command(stt_model, stt_url, 1, self.data_dir / "stt"),
                None,
                lambda: bool(probe(stt_url)["reachable"]),
                socket=str(run / "stt.sock"),
            ),
            Component(
                "tts",
                tts_command(voice, tts_url, self.data_dir / "tts"),
                None,
                lambda: bool(probe(tts_url)["reachable"]),
                socket=str(run / "tts.sock"),
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

    def run_dir(self) -> Path:
        """The folder of the speech servers' sockets, mode 0700: <data>/run, or, when its
        path is too long for a socket's, a new one under the temporary folder."""
        run = self.data_dir / "run"
        if len(str(run / "stt.sock").encode()) > SOCKET_PATH_MAX:
            self.own_run_dir = Path(tempfile.mkdtemp(prefix="tutor-run-"))  # made 0700
            log.info("%s is too long a path for a socket: they are in %s", run, self.own_run_dir)
            return self.own_run_dir
        run.mkdir(mode=0o700, exist_ok=True)
        run.chmod(0o700)
        return run

    def postgres(self) -> Component:
        """The database: initdb once (its data stays between runs), then `postgres` in
        the foreground, so this group sees it exit like any other part. Every connection,
        over TCP or its socket, needs a password (scram-sha-256): its superuser's is made
        at initdb, into <data>/secrets; the tutor's own role comes in create_database."""
        owner = server_user()
        home = self.postgres_home(owner)
        data, sockets = home / "data", home / "run"
        for folder in (home, sockets):
            folder.mkdir(exist_ok=True)
            give(folder, owner)
        sockets.chmod(0o700)  # its socket: the server's user (and root) alone
        programs = bindir()
        if not (data / "PG_VERSION").exists():
            log.info("creating the database cluster in %s", data)
            password = self.secrets.get("postgres-admin", renew=True)
            # initdb reads the superuser's password from a file: one only its user can
            # read, gone once it has.
            pwfile = home / "initdb-password"
            write_private(pwfile, password + "\n")
            give(pwfile, owner)
            try:
                subprocess.run(
                    [*as_user(owner), str(programs / "initdb"), "-D", str(data)]
                    + ["-U", ADMIN_ROLE, "--auth=scram-sha-256", f"--pwfile={pwfile}"]
                    + ["-E", "UTF8", "--no-locale"],
                    check=True,
                    capture_output=True,
                )
            finally:
                pwfile.unlink(missing_ok=True)
        elif not self.secrets.exists("postgres-admin"):
            raise TutorError(
                f"the database in {data} has no password in {self.secrets.folder} (an "
                "earlier `tutor cluster up` made it open to every local user): move it "
                "away, or delete it, and a locked one is made",
                code="cluster_not_ready",
            )
        port = free_port()
        self.pg_port = port
        self.tutor_password = self.secrets.get("postgres-tutor")
        self.database_url = (
            f"postgresql://{TUTOR_ROLE}:{self.tutor_password}@127.0.0.1:{port}/tutor"
        )
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
        """The tutor's role and database, once Postgres answers (the hosts make its
        tables): the role logs in with its own password (made once, into
        <data>/secrets), owns the `tutor` database and nothing else, and may not create
        databases or roles; no other role may connect to that database."""
        import psycopg
        from psycopg import sql

        admin = {"user": ADMIN_ROLE, "password": self.secrets.get("postgres-admin")}
        with psycopg.connect(
            host="127.0.0.1", port=self.pg_port, dbname="postgres", autocommit=True, **admin
        ) as db:
            role = db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (TUTOR_ROLE,))
            verb = "ALTER" if role.fetchone() else "CREATE"  # ALTER: the password again
            db.execute(
                sql.SQL(
                    "{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                    " NOBYPASSRLS PASSWORD {}"
                ).format(
                    sql.SQL(verb),
                    sql.Identifier(TUTOR_ROLE),
                    sql.Literal(self.tutor_password),
                )
            )
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = 'tutor'").fetchone():
                db.execute(
                    sql.SQL("CREATE DATABASE tutor OWNER {}").format(sql.Identifier(TUTOR_ROLE))
                )
            db.execute("REVOKE ALL ON DATABASE tutor FROM PUBLIC")

    def host_env(self, n: int, port: int) -> dict[str, str]:
        """A tutor host's settings: the shared parts' addresses, and its own port and name.
        The user's own TUTOR_* settings (a token, limits) pass through to every host."""
        public = [f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"]
        return {
            "TUTOR_HOST": "127.0.0.1",
            "TUTOR_PORT": str(port),
            "TUTOR_HOST_NAME": f"tutor-{n}",
            # Everything the tutor keeps is in the shared database; the host's own folder
            # holds only its search index, made from it. (The URL holds the tutor role's
            # password: an environment is its process's user's alone to read.)
            "TUTOR_DATABASE_URL": self.database_url,
            "TUTOR_DATA_DIR": str(self.data_dir / f"tutor-{n}"),
            "TUTOR_NARRATION_DIR": str(self.data_dir / "narration"),
            "TUTOR_LLM_URL": f"http://127.0.0.1:{self.llm_port}",
            "TUTOR_LLM_API_KEY": self.llm_key,
            "TUTOR_LLM_PARALLEL": str(2 * self.llm_replicas),
            "TUTOR_STT_URL": self.stt_url,
            "TUTOR_TTS_URL": self.tts_url,
            "TUTOR_THREADS": "1",
            "TUTOR_ALLOWED_ORIGINS": ",".join(public),
            # HAProxy says who the client is (X-Forwarded-For), so per-address limits
            # apply to learners, not to the proxy; but every local user connects from
            # 127.0.0.1 too, so the hosts believe it only beside HAProxy's secret header
            # (server/session/access.py), never by address.
            "TUTOR_TRUSTED_PROXIES": "",
            "TUTOR_PROXY_SECRET": self.proxy_secret,
            "TUTOR_LIBRARY_POLL_S": "1",
            # One host builds lessons (into the shared database and narration folder);
            # the others serve them. Two building the same lesson is work thrown away.
            "TUTOR_BUILD_LESSONS": "true" if n == 1 else "false",
        }

    def write_haproxy_config(self) -> Path:
        """<data>/haproxy.cfg, mode 0600: it holds the LLM key and the proxy secret."""
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
        write_private(
            path,
            HAPROXY_CONFIG.format(
                port=self.port,
                llm_port=self.llm_port,
                tutors=tutors,
                llms=llms,
                llm_auth=f'hdr Authorization "Bearer {self.llm_key}"',  # its checks too
                proxy_secret=self.proxy_secret,
            ),
        )
        return path

    # --- running -------------------------------------------------------------------------

    def start(self, component: Component) -> None:
        out = (self.logs / f"{component.name}.log").open("ab")
        argv = [*as_user(component.user), *component.argv]
        # The parts run the same tutor code as the command that started them, wherever
        # they run from (their working folder is the data folder).
        code = str(Path(__file__).resolve().parents[2])
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
        where = component.socket or f"port {component.port}"
        log.info("started %s (pid %d, %s)", component.name, component.proc.pid, where)

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
        if self.own_run_dir is not None:
            shutil.rmtree(self.own_run_dir, ignore_errors=True)


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
# Who the client is, HAProxy alone says: the client's own X-Forwarded-For (and Forwarded,
# X-Forwarded-Proto, X-Tutor-Proxy) is dropped, `option forwardfor` adds the peer it saw,
# and X-Tutor-Proxy carries the secret without which the hosts do not believe it. A
# client stays on the host leastconn first gave it (`stick on src`, while that host is up)
# so that its per-address limits, which each host counts in its own memory, hold for it.
# A host killed a moment ago can still accept a connection (its socket closes only once
# its memory is gone) and then drop it: a GET (a websocket's opening too) that got no
# answer is tried again, the last time on another host; a POST is not (it may have run).
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
    http-request del-header X-Forwarded-For
    http-request del-header Forwarded
    http-request del-header X-Forwarded-Proto
    http-request set-header X-Tutor-Proxy {proxy_secret}
    default_backend tutor_hosts

backend tutor_hosts
    balance leastconn
    stick-table type ip size 100k expire 1h
    stick on src
    retry-on conn-failure empty-response
    http-request disable-l7-retry unless METH_GET
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
    http-check send meth GET uri /v1/models ver HTTP/1.1 hdr Host 127.0.0.1 {llm_auth}
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
