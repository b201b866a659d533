from pathlib import Path

import pytest

from server.core.catalog import resolve
from server.core.config import BUNDLED_CORPUS, Settings
from server.reason.index.embed import Embedder
from server.reason.index.lookup import Index
from server.storage.library import Library
from server.storage.store import Store


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The real sentence-embedding model (23 MB), loaded once."""
    name = Settings().embed_model
    return Embedder(resolve("embed", name, tmp_path_factory.mktemp("embed-cache")), name)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    lib = Library(Store(tmp_path / "t.sqlite3"))
    lib.seed(BUNDLED_CORPUS)
    return lib


@pytest.fixture
def index(library: Library, tmp_path: Path, embedder: Embedder) -> Index:
    idx = Index(tmp_path / "index", embedder)
    idx.rebuild(library.store.articles())
    library.on_change(lambda: idx.rebuild(library.store.articles()))
    return idx
