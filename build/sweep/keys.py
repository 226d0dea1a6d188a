"""The cache keys of the sweep's stages: what each trained artifact depends on, hashed.

A key names everything that determines an entry's contents, including the key of the entry it
was made from, so a changed parameter retrains only the stages after it. Changing what goes
into a key makes every existing cache entry of that stage (and after it) unreachable: keep
the parts and their order as they are unless the contents really change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build.cache import cache_key
from edgebench.build.config import PipelineConfig, TrainConfig
from edgebench.build.datasets import Dataset
from edgebench.build.recipes.base import RecipeParams
from edgebench.build.recipes.collaborative import ClusterParams
from edgebench.build.strip import STRIP_VERSION
from edgebench.build.sweep.trials import (
    BASELINE_STAGE,
    CLUSTER_STAGE,
    FINAL_STAGE,
    PRUNE_STAGE,
    STRIP_STAGE,
    TrialSpec,
)
from edgebench.build.sweep_config import SweepConfig

VERSIONED_PACKAGES = (
    "tensorflow",
    "tf-keras",
    "tensorflow-model-optimization",
    "numpy",
    "ai-edge-litert",
)


def data_fingerprint(ds: Dataset) -> str:
    """A hash of the training and test arrays (after the config's limits)."""
    h = hashlib.sha256()
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:20]


def library_versions() -> dict[str, str]:
    """The Python and library versions a trained artifact depends on."""
    out = {"python": sys.version.split()[0]}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out


def baseline_key(config: PipelineConfig, fingerprint: str) -> str:
    """The trained dense baseline: data, model (builtin name or file hash), [train], the
    validation split it was held out of (share and seed), versions."""
    model: Any = config.model.builtin
    if config.model.path is not None:
        model = hashlib.sha256(Path(config.model.path).read_bytes()).hexdigest()
    sweep = config.sweep
    assert sweep is not None, "a sweep's baseline comes from a [sweep] config"
    split = {"validation_split": sweep.validation_split, "seed": sweep.seed}
    return cache_key(
        BASELINE_STAGE,
        fingerprint,
        model,
        dataclasses.asdict(config.train),
        split,
        library_versions(),
    )


# Recipe parameters added after caches were written, with the value that builds exactly what
# was built before them. At that value they stay out of the cache key, so adding a parameter
# does not make every cached pruned model unreachable.
KEY_NEUTRAL_DEFAULTS: dict[str, Any] = {"scope": "layer"}


def params_key(params: RecipeParams) -> dict[str, Any]:
    """A recipe's parameters as they enter its cache key."""
    return {
        k: v
        for k, v in dataclasses.asdict(params).items()
        if not (k in KEY_NEUTRAL_DEFAULTS and v == KEY_NEUTRAL_DEFAULTS[k])
    }


def prune_key(
    baseline: str,
    recipe_type: str,
    params: RecipeParams,
    train: TrainConfig,
    teacher: str | None = None,
) -> str:
    """A pruned model: the baseline, the recipe and its parameters, batch size and rate, and
    the teacher's key when one teaches (without one the key is what it was before teachers)."""
    parts: list[Any] = [baseline, recipe_type, params_key(params), train.batch_size,
                        train.learning_rate]
    if teacher is not None:
        parts.append({"teacher": teacher})
    return cache_key(PRUNE_STAGE, *parts)


def cluster_key(pruned: str, params: ClusterParams) -> str:
    """A clustered model: the pruned model and the clustering parameters."""
    return cache_key(CLUSTER_STAGE, pruned, dataclasses.asdict(params))


def final_key(
    upstream: str,
    spec: TrialSpec,
    sweep: SweepConfig,
    calibration_n: int,
    distill: tuple[float, float] = (0.0, 4.0),
) -> str:
    """A trial's .tflite file: the model it converts, the quantisation and how it was made
    (QAT: its epochs, rate and distillation)."""
    qat = spec.quantization == "qat"
    return cache_key(
        FINAL_STAGE,
        upstream,
        spec.id,
        tflite_name(spec),
        spec.quantization,
        sweep.qat_epochs if qat else None,
        sweep.qat_learning_rate if qat else None,
        calibration_n,
        *([{"distill": list(distill)}] if qat and distill[0] else []),
    )


def strip_key(final: str, mode: str) -> str:
    """A trial's stripped file: the final file's key, the mode, what stripping removes."""
    return cache_key(STRIP_STAGE, final, mode, STRIP_VERSION)


def tflite_name(spec: TrialSpec) -> str:
    """The file name of a trial's model, in the cache and in the run folder."""
    return f"{spec.id}.tflite"
