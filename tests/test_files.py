"""edgebench.files: the zipped size of a model, and atomic writes."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgebench.errors import EdgebenchError
from edgebench.files import ZIP_ENTRY_NAME, atomic_path, write_json_atomic, zip_bytes


def test_zip_bytes_is_the_size_of_a_deflated_zip_of_the_one_file(tmp_path: Path) -> None:
    zeros, noise = tmp_path / "zeros.bin", tmp_path / "noise.bin"
    zeros.write_bytes(bytes(100_000))
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 100_000, np.uint8).tobytes())
    on_disk = tmp_path / "zeros.zip"
    with zipfile.ZipFile(on_disk, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(zeros, arcname=ZIP_ENTRY_NAME)
    assert zip_bytes(zeros) == os.path.getsize(on_disk)
    assert zip_bytes(zeros) < 1_000 < 100_000 < zip_bytes(noise)


def test_renaming_a_model_does_not_move_its_zipped_size(tmp_path: Path) -> None:
    short = tmp_path / "a.tflite"
    short.write_bytes(b"TFL3" * 1000)
    long = tmp_path / ("a-much-longer-variant-name-than-before" * 3 + ".tflite")
    long.write_bytes(short.read_bytes())
    assert zip_bytes(short) == zip_bytes(long)
    long.write_bytes(short.read_bytes() + b"x")
    assert zip_bytes(short) != zip_bytes(long)  # the contents still count


def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left


def test_atomic_files_get_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json_atomic(target, {"a": 1})
    assert target.stat().st_mode & 0o777 == 0o644 & ~_umask()


def test_a_folder_is_not_a_file_to_write(tmp_path: Path) -> None:
    with pytest.raises(EdgebenchError, match="is a folder; give a file path"):
        write_json_atomic(tmp_path, {})


def test_nan_is_refused_not_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"a": float("nan")})
    assert not (tmp_path / "x.json").exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
