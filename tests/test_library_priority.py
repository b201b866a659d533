"""Indexing runs below learners' turns: the library's thread is niced (Linux keeps a
niceness per thread), so an upload's index rebuild yields the CPU to answers."""

import os
import threading
from pathlib import Path

import pytest

from server.storage.library import LIBRARY_NICENESS, Library
from server.storage.store import Store


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX priorities only")
def test_the_library_thread_runs_below_the_answering_threads(tmp_path: Path) -> None:
    library = Library(Store(tmp_path / "t.sqlite3"))
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = library._worker.submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ).result()
    assert theirs == min(19, mine + LIBRARY_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
