"""The stand-in phone: tests/stand_ins/adb first on PATH, answering from captured outputs.

No phone or emulator can run here. The stand-in records every call and answers from captured
outputs in tests/fixtures/adb/ (each file's header names where its format comes from); files
pushed to the "phone" really land in a folder, so a test can see what is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgebench.bench.orchestration.plan import plan_from_manifest
from edgebench.records import Artifact, Manifest

HERE = Path(__file__).parent
FIX = HERE / "fixtures"
ADB_FIX = FIX / "adb"
STAND_IN = HERE / "stand_ins"
SERIAL = "1A2B3C4D5E6F"
ADDRESS = f"adb://{SERIAL}"


class Phone:
    """The stand-in's configuration and what it saw."""

    def __init__(self, root: Path, **config) -> None:
        self.root = root
        self.device_root = root / "phone"
        self.device_root.mkdir()
        self.log = root / "adb-calls.log"
        self.config_path = root / "adb-standin.json"
        self.config = {
            "state": "device",
            "serial": SERIAL,
            "device_root": str(self.device_root),
            "fixtures": str(ADB_FIX),
            "log": str(self.log),
            "benchmark": {
                "default": {"file": "benchmark_inference_timings.txt"},
                "old": {"file": "benchmark_average_timings.txt"},
                "dynamic": {"file": "benchmark_missing_op.txt", "rc": 1},
                "crash": {"file": None, "rc": 139, "stderr": "Segmentation fault \n"},
            },
            **config,
        }
        self.config_path.write_text(json.dumps(self.config))

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def leftovers(self) -> list[str]:
        return sorted(str(p.relative_to(self.device_root)) for p in self.device_root.rglob("*"))


@pytest.fixture
def phone(tmp_path, monkeypatch):
    """A stand-in phone, with the stand-in adb first on PATH."""
    monkeypatch.setenv("PATH", f"{STAND_IN}{os.pathsep}{os.environ['PATH']}")
    p = Phone(tmp_path)
    monkeypatch.setenv("EDGEBENCH_ADB_STANDIN", str(p.config_path))
    assert shutil.which("adb") == str(STAND_IN / "adb")
    return p


def configure(phone: Phone, **changes) -> None:
    phone.config.update(changes)
    phone.config_path.write_text(json.dumps(phone.config))


@pytest.fixture
def arm64_binary(tmp_path) -> Path:
    """A file with an aarch64 ELF header, as --benchmark-binary (the stand-in runs nothing)."""
    p = tmp_path / "benchmark_model"
    header = b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little")
    p.write_bytes(header + bytes(44))
    return p


@pytest.fixture
def labelled_plan(tmp_path):
    """A manifest of the tiny fixtures with eval data, so accuracy comes from the host."""
    folder = tmp_path / "build"
    folder.mkdir()
    names = {"baseline/float32": "tiny_float32.tflite", "old/int8": "tiny_int8.tflite",
             "crash/int8": "tiny_int8.tflite", "pruned/dynamic": "tiny_dynamic.tflite",
             "pruned/int8": "tiny_int8.tflite"}
    arts = []
    for name, src in names.items():
        rel = name.replace("/", "_") + ".tflite"
        shutil.copyfile(FIX / src, folder / rel)
        size = (folder / rel).stat().st_size
        arts.append(Artifact(name=name, recipe=name.split("/")[0], kind=name.split("/")[1],
                             path=rel, file_bytes=size, zip_bytes=size, params=0,
                             nonzero_params=0, compression_ratio=1.0, host_accuracy=None))
    shutil.copytree(FIX / "tiny_eval", folder / "eval")
    Manifest(run_id="r1", created_at="2025-01-01T00:00:00+00:00", config_path=None,
             config_sha256=None, dataset=None, eval_data="eval",
             baseline="baseline/float32", artifacts=tuple(arts)).save(folder / "manifest.json")
    return plan_from_manifest(folder / "manifest.json")
