"""A throwaway Postgres server for the tests: initdb into a temporary folder, started on a
free port (and a socket folder beside it), stopped and deleted at the end.

Postgres refuses to run as root, and the tests run as root on CI: the server then runs as
the `postgres` user that Debian's package creates (`runuser`), in a folder it owns. No
fallback and no skip: a machine that cannot start it fails the tests that need it (the
Makefile's system-deps step installs the package)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from server.ops.cliutil import free_port
from server.storage.pgserver import as_user, bindir, give, login, server_user


class PostgresServer:
    """`url(db)`: a URL for one of its databases; `fresh_url()`: a new, empty database."""

    def __init__(self) -> None:
        self.bindir = bindir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="tutor-pg-"))
        self.data = self.folder / "data"
        self.sockets = self.folder / "run"
        self.sockets.mkdir()
        owner = server_user()
        for path in (self.folder, self.sockets):
            give(path, owner)
        self._as = as_user(owner)
        self.user = login(owner)
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "--no-sync",
            "-E", "UTF8", "--no-locale",
        )  # fmt: skip
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.sockets}"
            # Throwaway data: nothing needs to survive a crash, so nothing waits for disk.
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        self.admin = psycopg.connect(self.url("postgres"), autocommit=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bindir / program), *args], capture_output=True, text=True
        )
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}{tail}")

    def url(self, database: str, password: str | None = None) -> str:
        """TCP on 127.0.0.1 (trust: a password in the URL is accepted and not needed)."""
        who = f"{self.user}:{password}" if password else self.user
        return f"postgresql://{who}@127.0.0.1:{self.port}/{database}"

    def fresh_url(self, password: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name, password)

    def stop(self) -> None:
        self.admin.close()
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
