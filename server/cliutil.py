"""What every command shares: the consoles, the data-folder option, settings from flags."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from server.config import Settings

console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option(help="Data folder [env TUTOR_DATA_DIR].")]


def settings_from(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
