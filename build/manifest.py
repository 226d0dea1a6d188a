"""The manifest of a build or sweep: where the data came from, what was made, with which
versions; written last, into the run folder, as ``manifest.json``."""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ai_edge_litert
import numpy as np

from edgebench.build import sources
from edgebench.build._tf import import_tf
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset
from edgebench.build.preprocessing import Preprocessing
from edgebench.build.progress import Progress
from edgebench.records import Artifact, DatasetInfo, Manifest

MANIFEST_FILE = "manifest.json"


def new_manifest(
    run_dir: Path,
    config: PipelineConfig,
    ds: Dataset,
    *,
    eval_path: Path,
    baseline: str,
    artifacts: Sequence[Artifact],
    dataset: DatasetInfo | None = None,
    **extra: Any,
) -> Manifest:
    """The manifest of a build or sweep in ``run_dir``: where the data came from (``dataset``,
    else :func:`dataset_info` without a model), what was made."""
    tf, keras, tfmot = import_tf()
    return Manifest(
        run_id=run_dir.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_path=str(config.path) if config.path else None,
        config_sha256=config.sha256,
        dataset=dataset or dataset_info(ds, config),
        eval_data=eval_path.name,
        baseline=baseline,
        artifacts=tuple(artifacts),
        versions=_versions(tf, keras, tfmot),
        **extra,
    )


def dataset_info(
    ds: Dataset,
    config: PipelineConfig,
    source: sources.ModelSource | None = None,
    prep: Preprocessing | None = None,
) -> DatasetInfo:
    """What the manifest says about the data: its size, labels, preprocessing and metric, and
    the model inputs and outputs it meets. Without ``prep`` (the sweep's single input), the
    preprocessing is the config's; without ``source``, the model's names are left out."""
    if prep is not None:
        preprocess = prep.describe()
    elif isinstance(config.data.preprocess, str):
        preprocess = {"x": config.data.preprocess}
    else:
        preprocess = dict(config.data.preprocess)
    return DatasetInfo(
        name=ds.name,
        source=ds.source,
        n_train=ds.n_train,
        n_test=ds.n_test,
        num_classes=ds.num_classes,
        labelled=ds.labelled,
        preprocess=preprocess,
        metric=config.data.metric if ds.labelled else None,
        inputs=tuple(source.input_names) if source is not None else (),
        outputs=tuple(source.output_names) if source is not None else (),
    )


def save_manifest(manifest: Manifest, run_dir: Path, t_start: float, progress: Progress) -> Path:
    """Write ``manifest`` into ``run_dir``, report the build's time since ``t_start`` (a
    ``time.perf_counter()``) and what it made; return the manifest's path."""
    manifest_path = run_dir / MANIFEST_FILE
    manifest.save(manifest_path)
    progress(
        f"build done in {time.perf_counter() - t_start:.1f} s: {len(manifest.artifacts)} "
        f"artifacts, manifest {manifest_path}"
    )
    return manifest_path


def _versions(tf: Any, keras: Any, tfmot: Any) -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "tfmot": getattr(tfmot, "__version__", "unknown"),
        "numpy": np.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", "unknown"),
        "python": platform.python_version(),
    }
