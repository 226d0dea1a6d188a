"""The sweep's vocabulary: a point of the search space, a measured trial, a worker's task.

No TensorFlow here: these travel between the driver and worker processes (pickled by the
local pool and by Ray) and end up in the manifest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgebench.build.config import PipelineConfig
from edgebench.records import VariantKind

# The cached stages of a trial, in order; also the names in TrialResult.trained.
BASELINE_STAGE, PRUNE_STAGE, CLUSTER_STAGE, FINAL_STAGE = "baseline", "prune", "cluster", "final"

LayerFacts = Mapping[str, Mapping[str, float | int]]  # layer -> sparsity, unique_values


@dataclass(frozen=True)
class TrialSpec:
    """One point of the search space."""

    recipe: str  # a [recipes.<name>] section
    sparsity: float
    clusters: int  # 0 = no clustering
    quantization: str  # int8, dynamic, float16, float32 or qat

    @property
    def id(self) -> str:
        """A name that says what the trial is, e.g. ``lrr-s90-k8-qat``; also its file name."""
        return (
            f"{self.recipe}-s{round(self.sparsity * 100, 2):g}-k{self.clusters}-{self.quantization}"
        )

    @property
    def kind(self) -> VariantKind:
        """The TFLite variant the trial's file is (QAT makes an int8 model)."""
        return VariantKind.INT8 if self.quantization == "qat" else VariantKind(self.quantization)

    @property
    def qat_scheme(self) -> str | None:
        """``pqat``, or ``pcqat`` on a clustered model; None without QAT."""
        if self.quantization != "qat":
            return None
        return "pcqat" if self.clusters else "pqat"


@dataclass(frozen=True)
class TrialResult:
    """One measured trial: what it is, what it costs, what it gets right, how it was made."""

    spec: TrialSpec
    recipe_type: str  # the registered recipe of spec.recipe's section, e.g. lr_rewinding
    zip_bytes: int
    file_bytes: int
    accuracy: float  # on the test set, by the LiteRT interpreter
    # Per layer after each stage: "pruned", "clustered" (when clustered) and "tflite".
    stages: Mapping[str, LayerFacts]
    trained: tuple[str, ...]  # the stages trained for this trial; () = all from the cache
    tflite_path: str  # the file in the cache
    trial_s: float
    compression_ratio: float | None = None  # against the dense baseline; set by the driver

    @property
    def id(self) -> str:
        """The spec's id."""
        return self.spec.id

    def with_compression_ratio(self, dense_zip_bytes: int) -> TrialResult:
        """A copy that knows its compression against the dense baseline's zipped bytes."""
        return dataclasses.replace(
            self, compression_ratio=round(dense_zip_bytes / self.zip_bytes, 3)
        )

    def to_dict(self) -> dict[str, Any]:
        """The trial as the manifest's ``sweep.trials`` records it (the cache path left out)."""
        s = self.spec
        out: dict[str, Any] = {
            "id": s.id,
            "recipe": s.recipe,
            "recipe_type": self.recipe_type,
            "sparsity": s.sparsity,
            "clusters": s.clusters,
            "quantization": s.quantization,
            "qat_scheme": s.qat_scheme,
            "kind": s.kind.value,
            "zip_bytes": self.zip_bytes,
            "file_bytes": self.file_bytes,
            "accuracy": self.accuracy,
            "stages": {k: dict(v) for k, v in self.stages.items()},
            "trained": list(self.trained),
            "trial_s": self.trial_s,
        }
        if self.compression_ratio is not None:
            out["compression_ratio"] = self.compression_ratio
        return out


@dataclass(frozen=True)
class TaskJob:
    """Everything a worker needs to run trials that share one pruned model."""

    config: PipelineConfig
    cache_root: str
    eval_path: str
    baseline_key: str
    data_fingerprint: str
    trials: tuple[TrialSpec, ...]
    threads: int
