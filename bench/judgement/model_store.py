"""The history's model store: every benched model file kept once, by its SHA-256, so that a
past run can be measured again later (``edgebench ab REF …``, ``compare --rebench``).

The files live beside the history file (``history.sqlite`` -> ``history.models/``), as
``<sha256>.tflite``; the history's ``model_files`` table says which run's record used which
file. The store is bounded: after a run is added, and on ``edgebench history gc``, the files
only old runs use are removed, oldest run first, until the store fits its bound again; the
newest run's files are always kept. A run whose files were removed can still be compared from
its records, but no longer re-measured, and the error says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgebench.files import atomic_path

#: the store's bound when none is given: room for ~200 MobileNet-size float32 files
DEFAULT_STORE_MB = 2048.0
SUFFIX = ".tflite"


def store_folder(history_path: Path) -> Path:
    """Where a history's model files live: ``history.models/`` beside ``history.sqlite``."""
    history_path = Path(history_path)
    return history_path.with_name(history_path.stem + ".models")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoreSize:
    """How big the store is, against its bound."""

    files: int
    bytes: int
    bound_bytes: int
    folder: Path

    def describe(self) -> str:
        return (f"model store: {self.files} files, {self.bytes / 1e6:.1f} MB of "
                f"{self.bound_bytes / 1e6:.0f} MB ({self.folder})")


class ModelStore:
    """Content-addressed model files in one folder."""

    def __init__(self, folder: Path, bound_mb: float = DEFAULT_STORE_MB) -> None:
        self.folder = Path(folder)
        self.bound_bytes = int(bound_mb * 1e6)

    def path_of(self, sha: str) -> Path:
        return self.folder / f"{sha}{SUFFIX}"

    def has(self, sha: str) -> bool:
        return self.path_of(sha).is_file()

    def add(self, path: Path) -> tuple[str, int]:
        """Keep a copy of ``path`` (once per content); its SHA-256 and size in bytes."""
        sha = sha256_of(path)
        dest = self.path_of(sha)
        if not dest.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                shutil.copyfile(path, tmp)
        return sha, dest.stat().st_size

    def size(self) -> StoreSize:
        files = list(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []
        return StoreSize(len(files), sum(f.stat().st_size for f in files), self.bound_bytes,
                         self.folder)

    def remove(self, sha: str) -> int:
        """Delete one file; the bytes freed."""
        path = self.path_of(sha)
        try:
            freed = path.stat().st_size
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return freed
