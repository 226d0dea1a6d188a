"""Memory as the device sees it: smaps_rollup read on a captured file, the mapped model file
found in smaps, and the runner's figures on this machine (PSS and USS present on Linux, the
model's share = steady - before, split into the mapped file and anonymous memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner import memory
from edgebench.bench.device.runner.cli import MARKER

FIX = Path(__file__).parent / "fixtures"


def test_smaps_rollup_gives_rss_pss_uss_and_the_anonymous_file_split() -> None:
    got = memory.parse_rollup((FIX / "proc" / "smaps_rollup.txt").read_text())
    # Rss 1764 kB, Pss 308, Private_Clean 36 + Private_Dirty 116, Anonymous 116
    assert got == {"rss": 1.72, "pss": 0.3, "uss": 0.15, "anon": 0.11, "file": 1.61}


def test_without_smaps_rollup_the_mappings_of_smaps_are_summed() -> None:
    smaps = (
        "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/python3\n"
        "Rss:                 300 kB\nPss:                 100 kB\n"
        "Private_Clean:        20 kB\nPrivate_Dirty:         0 kB\nAnonymous:             0 kB\n"
        "VmFlags: rd ex mr mw me dw\n"
        "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \n"
        "Rss:                1024 kB\nPss:                1024 kB\n"
        "Private_Clean:         0 kB\nPrivate_Dirty:      1024 kB\nAnonymous:          1024 kB\n"
    )
    assert memory.parse_rollup(smaps) == {"rss": 1.29, "pss": 1.1, "uss": 1.02, "anon": 1.0,
                                          "file": 0.29}
    assert memory.parse_rollup("not smaps") == {}


def test_the_model_files_resident_pages_are_found_by_its_resolved_path(tmp_path: Path) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    link = tmp_path / "link.tflite"
    link.symlink_to(model)
    smaps = (
        f"7f1000000000-7f1000400000 r--p 00000000 08:01 42   {model}\n"
        "Rss:                4096 kB\n"
        f"7f1000400000-7f1000401000 r--p 00400000 08:01 42   {model}\n"
        "Rss:                   4 kB\n"
        "7f2000000000-7f2000400000 r--p 00000000 08:01 43   /other/file with spaces\n"
        "Rss:                2048 kB\n"
    )
    assert memory.mapped_file_mib(smaps, str(link)) == 4.0
    assert memory.mapped_file_mib(smaps, str(tmp_path / "absent.tflite")) == 0.0


def test_pss_and_uss_are_present_on_linux() -> None:
    now = memory.snapshot(__file__)
    assert now["rss"] > 0 and now["pss"] > 0 and now["uss"] > 0
    assert now["anon"] > 0 and now["file"] > 0 and now["pss"] <= now["rss"]
    assert now["model_file"] == 0.0  # this file is read, not mapped


def test_pss_and_uss_agree_with_psutil() -> None:
    """The runner reads smaps itself (a device may have no psutil); psutil's memory_full_info
    reads the same files, so the two agree up to what this process allocated in between."""
    import psutil

    full = psutil.Process().memory_full_info()
    now = memory.snapshot()
    assert now["pss"] == pytest.approx(full.pss / 2**20, abs=1.0)
    assert now["uss"] == pytest.approx(full.uss / 2**20, abs=1.0)


def test_the_models_share_is_what_grew_from_before_the_load() -> None:
    before = {"rss": 40.0, "anon": 10.0, "file": 30.0}
    steady = {"rss": 51.5, "anon": 14.1, "file": 37.4, "model_file": 4.0}
    assert memory.model_memory(before, steady) == {"model": 11.5, "model_anon": 4.1,
                                                   "model_file": 4.0}
    assert memory.model_memory({"rss": None}, steady)["model"] is None


@pytest.mark.parametrize("name", ["tiny_float32.tflite", "tiny_int8.tflite"])
def test_the_runner_gives_the_models_memory(name) -> None:
    proc = subprocess.run(
        [sys.executable, str(runner_archive()), "run", "--model", str(FIX / name),
         "--runs", "5", "--warmup", "5"],
        capture_output=True, text=True, timeout=120,
    )
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    rss = json.loads(line[len(MARKER):])["rss_mb"]
    assert 0 < rss["before"] <= rss["after_init"] and rss["steady"] <= rss["peak"]
    assert rss["model"] == pytest.approx(rss["steady"] - rss["before"], abs=0.011)
    assert rss["pss"] > 0 and rss["uss"] > 0
    # the file is mapped whole (and fully resident after the invokes); a tiny model's share
    # is mostly the runtime's code pages that its load touched first
    size_mib = (FIX / name).stat().st_size / 2**20
    assert rss["model_file"] == pytest.approx(size_mib, abs=0.01)
    assert rss["model_anon"] is not None and rss["model"] >= rss["model_file"]


# --------------------------------------------------------------------------- weight cache


def test_the_weight_cache_is_measured_through_compiled_model() -> None:
    """Three probes (no cache, building one, loading it), each a process; a tiny model saves
    little, so only the shape is held here (the MLP benchmark holds the saving itself)."""
    proc = subprocess.run(
        [sys.executable, str(runner_archive()), "run", "--model",
         str(FIX / "tiny_float32.tflite"), "--runs", "5", "--xnnpack-weight-cache"],
        capture_output=True, text=True, timeout=300,
    )
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    w = json.loads(line[len(MARKER):])["weight_cache"]
    assert w["error"] is None and w["api"] == "CompiledModel"
    assert w["without_mb"] > 0 and w["with_mb"] > 0 and w["cache_mb"] > 0
    assert w["saved_mb"] == pytest.approx(w["without_mb"] - w["with_mb"], abs=0.011)
    assert w["init_ms_with"] > 0 and w["init_ms_build"] > 0


def test_a_runtime_without_a_weight_cache_says_why(monkeypatch) -> None:
    from edgebench.bench.device.runner import weightcache

    monkeypatch.setattr(weightcache, "unavailable", lambda: "tflite-runtime has none")
    assert weightcache.measure_weight_cache("m.tflite", 1) == {"error": "tflite-runtime has none"}


def test_an_interpreter_without_compiled_model_is_unavailable(monkeypatch) -> None:
    from edgebench.bench.device.runner import weightcache

    monkeypatch.setitem(sys.modules, "ai_edge_litert.compiled_model", None)  # import fails
    assert "no XNNPACK weight cache in its Python API" in weightcache.unavailable()
