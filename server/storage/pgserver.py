"""Running Debian's Postgres server programs: where they are, and as whom.

`tutor cluster up` runs a Postgres server for its tutor hosts, and the tests run a
throwaway one (tests/postgres.py). Debian puts the server's programs off PATH, and
Postgres refuses to run as root: as root, they run as the `postgres` user that Debian's
package creates (`runuser`), in folders that user owns."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
from pathlib import Path

from server.core.errors import TutorError


def bindir() -> Path:
    """The folder of initdb and postgres: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not versions:
        raise TutorError(
            "no Postgres server programs (initdb): install Debian's `postgresql` package "
            "(`make cluster` and `make test` do)",
            code="postgres_missing",
        )
    return Path(versions[-1]).parent


def server_user() -> str | None:
    """Whom the server must run as: None for the current user, "postgres" for root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise TutorError(
            "running as root, and there is no `postgres` user to run the server as "
            "(Debian's `postgresql` package creates it)",
            code="postgres_missing",
        ) from exc
    return "postgres"


def as_user(user: str | None) -> list[str]:
    """The prefix that runs a command as `user` (nothing for the current user)."""
    return ["runuser", "-u", user, "--"] if user else []


def give(path: Path, user: str | None) -> None:
    """Make `path` (a folder of the server's) belong to the user it runs as."""
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def login(user: str | None) -> str:
    """The database role initdb makes: the user the server runs as."""
    return user or pwd.getpwuid(os.geteuid()).pw_name
