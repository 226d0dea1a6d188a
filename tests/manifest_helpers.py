"""A build manifest of the tiny committed models, for tests that need a build without training
(the CI examples' "already-built manifest", --run on a manifest)."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgebench.files import zip_bytes
from edgebench.records import Artifact, Manifest

FIXTURES = Path(__file__).parent / "fixtures"
#: variant -> committed model file
TINY_BUILD = {
    "baseline/float32": "tiny_float32.tflite",
    "pruned/dynamic": "tiny_dynamic.tflite",
    "pruned/int8": "tiny_int8.tflite",
}


def tiny_manifest(folder: Path, run_id: str, models: dict[str, str] | None = None,
                  config_path: Path | None = None) -> Path:
    """Write ``folder/manifest.json`` over copies of the tiny models (with the tiny eval data,
    so accuracy is measured); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    arts = []
    for name, src in (models or TINY_BUILD).items():
        rel = name.replace("/", "_") + ".tflite"
        shutil.copyfile(FIXTURES / src, folder / rel)
        arts.append(Artifact(
            name=name, recipe=name.split("/")[0], kind=name.split("/")[1], path=rel,
            file_bytes=(folder / rel).stat().st_size, zip_bytes=zip_bytes(folder / rel),
            params=0, nonzero_params=0, compression_ratio=1.0, host_accuracy=None,
        ))
    shutil.copyfile(FIXTURES / "tiny_eval.npz", folder / "eval.npz")
    manifest = Manifest(
        run_id=run_id, created_at="2025-01-01T00:00:00+00:00",
        config_path=str(config_path) if config_path else None, config_sha256=None,
        dataset=None, eval_data="eval.npz", baseline="baseline/float32", artifacts=tuple(arts),
    )
    manifest.save(folder / "manifest.json")
    return folder / "manifest.json"
