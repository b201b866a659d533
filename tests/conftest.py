"""Shared fixtures: real models loaded once per test run, a fresh data folder per test."""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from server.core.config import Settings
from server.engines import Engines
from server.session.services import open_engines
from tests.postgres import PostgresServer

DATA = Path(__file__).resolve().parent / "data"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"


def read_wav(name: str) -> tuple[np.ndarray, int]:
    """A fixture as int16 samples and its rate."""
    with wave.open(str(DATA / name), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def fixtures_manifest() -> list[dict[str, str]]:
    return json.loads((DATA / "fixtures.json").read_text())


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No background lesson build: it would compete for the CPU with what a test measures.
    # Starlette's TestClient sends `Host: testserver`.
    return Settings(
        data_dir=tmp_path / "data", threads=2, build_lessons=False, allowed_hosts=["testserver"]
    )


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """The real default models, loaded once for the whole run (TUTOR_* settings in the
    environment apply, as for the tutor)."""
    s = Settings(data_dir=tmp_path_factory.mktemp("engines"), threads=2)
    s.check()
    loaded = open_engines(s)  # the tutor's own composition root: settings -> engines
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway Postgres server for the run (started on first use); each test that
    needs one takes a fresh database from it (`fresh_url`). It must start: no skip."""
    server = PostgresServer()
    yield server
    server.stop()
