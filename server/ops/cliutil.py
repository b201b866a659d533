"""What every command shares: the consoles, the data-folder option, settings from flags."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from server.core.config import Settings

console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option(help="Data folder [env TUTOR_DATA_DIR].")]


def settings_from(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def free_port() -> int:
    """A loopback port nobody listens on now (bound, then released): for the servers the
    benchmarks, `tutor cluster up` and the tests start."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
