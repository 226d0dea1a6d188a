"""The history's model store: every benched file kept once by SHA-256, bounded, reported,
trimmed by ``edgebench history gc``; a run whose files were collected is named when someone
asks to re-measure it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from history_helpers import FIXTURES, make_record, make_results

from edgebench.bench.judgement.history import HistoryError, append_results, open_history
from edgebench.bench.judgement.model_store import ModelStore, sha256_of, store_folder

CONV5, CONV6 = FIXTURES / "conv5_float32.tflite", FIXTURES / "conv6_float32.tflite"


def run_with(run_id: str, model: Path):
    rec = replace(make_record("conv"), model_path=str(model))
    return make_results(run_id, [rec])


def test_a_file_is_kept_once_by_its_content(tmp_path) -> None:
    store = ModelStore(tmp_path / "s")
    copy = tmp_path / "copy.tflite"
    shutil.copyfile(CONV5, copy)
    assert store.add(CONV5) == store.add(copy) == (sha256_of(CONV5), CONV5.stat().st_size)
    assert store.size().files == 1 and store.has(sha256_of(CONV5))


def test_appending_a_run_keeps_its_files_beside_the_history(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    model = tmp_path / "model.tflite"
    shutil.copyfile(CONV5, model)
    append_results(path, [run_with("run01", model)])
    shutil.copyfile(CONV6, model)  # the nightly job overwrites its model file
    append_results(path, [run_with("run02", model)])
    assert store_folder(path) == tmp_path / "history.models"
    with open_history(path) as h:
        first, second = (h.model_files(row)["conv"] for row in reversed(h.runs()))
        assert first.read_bytes() == CONV5.read_bytes()  # the store still holds the first file
        assert second.read_bytes() == CONV6.read_bytes()
        size = h.store_size()
    assert size.files == 2 and size.bytes == CONV5.stat().st_size + CONV6.stat().st_size
    assert "model store: 2 files" in size.describe()


def test_gc_trims_the_oldest_runs_files_and_names_the_run_after(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    append_results(path, [run_with("run01", CONV5)])
    append_results(path, [run_with("run02", CONV6)])
    with open_history(path) as h:
        removed, freed = h.gc(bound_mb=0)  # the newest run's files always stay
        assert (removed, freed) == (1, CONV5.stat().st_size)
        old, new = reversed(h.runs())
        assert h.model_files(new)["conv"].is_file()
        with pytest.raises(HistoryError) as err:
            h.model_files(old)
    message = str(err.value)
    assert "run01" in message and "collected by edgebench history gc" in message
    assert "can no longer be re-measured" in message


def test_a_run_without_stored_files_says_so(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    append_results(path, [make_results("run01")])  # its model paths do not exist
    with open_history(path) as h, pytest.raises(HistoryError, match="no stored model files"):
        h.model_files(h.runs()[0])


def test_history_gc_on_the_command_line_reports_the_store(cli, tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    append_results(path, [run_with("run01", CONV5)])
    append_results(path, [run_with("run02", CONV6)])
    done = cli("history", "gc", "--store-mb", "0", "--history", path)
    assert done.code == 0, done.err
    assert "removed 1 model files" in done.out and "model store: 1 files" in done.out
    listing = cli("history", "--history", path)
    assert "model store: 1 files" in listing.err
