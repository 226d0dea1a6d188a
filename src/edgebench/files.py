"""Files every stage writes and measures: atomic writes, and the zipped size of a model.

Every file edgebench writes appears by a rename of a finished temporary file beside it, so a
reader never sees half a file and an interrupted write leaves the old file as it was.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgebench.errors import EdgebenchError

#: The one name every model gets inside the measuring archive. A zip stores the entry name
#: twice (local header and central directory), so naming the entry after the file would make
#: renaming a variant move its zipped size, and a ``max_zip_bytes`` budget with it.
ZIP_ENTRY_NAME = "model"


def zip_bytes(path: Path) -> int:
    """Bytes of a ZIP_DEFLATED archive holding only ``path``, as the TF pruning guide measures.

    The archive entry always has the same name (:data:`ZIP_ENTRY_NAME`), so the figure depends
    on the file's contents only.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(ZIP_ENTRY_NAME, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as src, zf.open(info, "w") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    return buf.getbuffer().nbytes


@contextmanager
def atomic_path(path: Path, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed into place.

    ``mode`` replaces mkstemp's private 0600 (minus the umask): results, manifests and
    evaluation data are copied to devices and shared like any file.
    """
    path = Path(path)
    if path.is_dir():
        raise EdgebenchError(f"{path} is a folder; give a file path to write to")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EdgebenchError(
            f"cannot write {path} ({exc.strerror}); choose a folder you can write to"
        ) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` atomically; NaN and infinity are refused, not written."""
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, before any thread writes files
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def point_latest(out: Path, run_dir: Path) -> None:
    """Keep ``<out>/latest`` pointing at the newest run folder (an atomic symlink swap)."""
    link = Path(out) / "latest"
    tmp = Path(out) / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(Path(run_dir).resolve(), tmp)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
