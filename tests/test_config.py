import subprocess
import sys
from pathlib import Path

import pytest

from server.core.catalog import load_catalog, resolve
from server.core.config import Settings
from server.core.errors import ConfigError


def test_catalog_names_resolve_to_installed_files(tmp_path: Path) -> None:
    catalog = load_catalog()
    assert {"tiny.en", "base"} <= set(catalog["stt"])
    assert resolve("llm", "smollm2-135m", tmp_path).suffix == ".gguf"
    assert resolve("tts", "joe-medium", tmp_path).with_suffix(".onnx.json").exists()
    assert (resolve("stt", "tiny.en", tmp_path) / "model.bin").exists()


def test_split_whisper_base_is_assembled_once(tmp_path: Path) -> None:
    folder = resolve("stt", "base", tmp_path)
    model = folder / "model.bin"
    entry = load_catalog()["stt"]["base"]
    assert model.stat().st_size > 100_000_000
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    first = model.stat().st_mtime_ns
    assert resolve("stt", "base", tmp_path) == folder
    assert model.stat().st_mtime_ns == first, "reused, not rebuilt"
    assert entry.parts


def test_missing_model_path_names_the_setting(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, llm_model=str(tmp_path / "nope.gguf"))
    with pytest.raises(ConfigError, match="TUTOR_LLM_MODEL"):
        s.check()


def test_unreadable_data_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="TUTOR_DATA_DIR"):
        Settings(data_dir=blocker / "sub").check()


def test_cli_prints_one_line_and_exits_nonzero(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--stt-model",
            str(tmp_path / "missing-whisper"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TUTOR_STT_MODEL" in lines[0] and "Traceback" not in result.stderr


def test_cli_rejects_bad_port_value(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", "70000", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TUTOR_PORT" in result.stderr and "Traceback" not in result.stderr
