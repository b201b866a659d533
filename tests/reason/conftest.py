from pathlib import Path

import pytest

from server.config import BUNDLED_CORPUS
from server.library import Library
from server.reason.lookup import Index
from server.store import Store


@pytest.fixture
def library(tmp_path: Path) -> Library:
    lib = Library(Store(tmp_path / "t.sqlite3"))
    lib.seed(BUNDLED_CORPUS)
    return lib


@pytest.fixture
def index(library: Library, tmp_path: Path) -> Index:
    idx = Index(tmp_path / "index")
    idx.rebuild(library.store.articles())
    library.on_change(lambda: idx.rebuild(library.store.articles()))
    return idx
