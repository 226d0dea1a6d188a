"""A content-addressed cache of trained artifacts, safe for several worker processes.

An entry is a folder ``<root>/<stage>/<key>/`` named by the hash of everything that
determines its contents (data, model, recipe, parameters, seed, library versions, and the key
of the entry it was made from). It appears by an atomic rename of a finished temporary folder,
so a reader sees a whole entry or none; a crash leaves only a ``.tmp-*`` folder, which is
ignored. A per-key file lock makes two workers that need the same entry build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

META = "meta.json"


def cache_key(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dataclasses must be turned into dicts first)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Entry:
    """A finished cache entry: its folder and the metadata written with it."""

    path: Path
    meta: dict[str, Any]


class Cache:
    """Entries under ``root``; :meth:`get_or_build` is the only way in."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def entry_path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def get(self, stage: str, key: str) -> Entry | None:
        path = self.entry_path(stage, key)
        try:
            meta = json.loads((path / META).read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        return Entry(path, meta)

    def get_or_build(
        self, stage: str, key: str, build: Callable[[Path], dict[str, Any]]
    ) -> tuple[Entry, bool]:
        """The entry for ``key``, building it with ``build(tmp_folder) -> meta`` if missing.

        Returns ``(entry, built)``; ``built`` is False when the entry came from the cache.
        """
        found = self.get(stage, key)
        if found is not None:
            return found, False
        with self._lock(stage, key):
            found = self.get(stage, key)  # another worker may have built it while we waited
            if found is not None:
                return found, False
            final = self.entry_path(stage, key)
            tmp = final.parent / f".tmp-{key}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                meta = build(tmp)
                (tmp / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Entry(final, meta), True

    @contextmanager
    def _lock(self, stage: str, key: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{stage}-{key}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
