"""The sweep's vocabulary: a point of the search space, a measured trial, a worker's task.

No TensorFlow here: these travel between the driver and worker processes (pickled by the
local pool and by Ray) and end up in the manifest. A trial's accuracy is measured on the
validation split (``val_accuracy``); ``test_accuracy`` is set only after the choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scipy import stats

from edgebench.build.config import PipelineConfig
from edgebench.build.sweep.fidelity import Fidelity
from edgebench.records import VariantKind

# The cached stages of a trial, in order; also the names in TrialResult.trained.
BASELINE_STAGE, PRUNE_STAGE, CLUSTER_STAGE, FINAL_STAGE = "baseline", "prune", "cluster", "final"
STRIP_STAGE = "strip"  # a copy of the final file without names (no training, never "trained")

LayerFacts = Mapping[str, Mapping[str, float | int]]  # layer -> sparsity, unique_values


@dataclass(frozen=True)
class TrialSpec:
    """One point of the search space."""

    recipe: str  # a [recipes.<name>] section
    sparsity: float
    clusters: int  # 0 = no clustering
    quantization: str  # int8, int8-per-tensor, dynamic, float16, float32 or qat
    overrides: tuple[tuple[str, Any], ...] = ()  # [sweep.vary]: recipe parameters set

    @property
    def id(self) -> str:
        """A name that says what the trial is, e.g. ``lrr-s90-k8-qat``; also its file name.

        Varied parameters go by their initials after the recipe: ``distill_alpha = 0.9`` makes
        ``gradual-da0.9-s93-k8-qat``.
        """
        varied = "".join(f"-{_initials(k)}{_value_text(v)}" for k, v in self.overrides)
        return (
            f"{self.recipe}{varied}-s{round(self.sparsity * 100, 2):g}-k{self.clusters}-"
            f"{self.quantization}"
        )

    @property
    def pruned_model(self) -> tuple[Any, ...]:
        """What the trials that share one pruned model have in common: recipe, [sweep.vary]
        parameters and sparsity."""
        return (self.recipe, self.overrides, self.sparsity)

    @property
    def kind(self) -> VariantKind:
        """The TFLite variant the trial's file is (QAT makes an int8 model)."""
        if self.quantization in ("qat", "int8-per-tensor"):
            return VariantKind.INT8
        return VariantKind(self.quantization)

    @property
    def qat_scheme(self) -> str | None:
        """``pqat``, or ``pcqat`` on a clustered model; None without QAT."""
        if self.quantization != "qat":
            return None
        return "pcqat" if self.clusters else "pqat"


def _initials(key: str) -> str:
    """distill_alpha -> da."""
    return "".join(part[0] for part in key.split("_") if part)


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "+".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class StripRecord:
    """What stripping took out of a trial's file, and what the file weighed before."""

    mode: str  # "all" or "keep-signatures"
    unstripped_zip_bytes: int
    unstripped_file_bytes: int
    removed: Mapping[str, Any]  # edgebench.build.strip.strip_flatbuffer's record
    identical_outputs_on: int  # validation samples answered byte-identically

    def to_dict(self) -> dict[str, Any]:
        """As the manifest records it."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrialResult:
    """One measured trial: what it is, what it costs, what it gets right, how it was made."""

    spec: TrialSpec
    recipe_type: str  # the registered recipe of spec.recipe's section, e.g. lr_rewinding
    zip_bytes: int  # of the file shipped (stripped when sweep.strip is on)
    file_bytes: int
    # On the validation split, by the LiteRT interpreter: the only accuracy the choice sees.
    val_accuracy: float
    val_n: int  # validation samples
    # Per layer after each stage: "pruned", "clustered" (when clustered) and "tflite".
    stages: Mapping[str, LayerFacts]
    trained: tuple[str, ...]  # the stages trained for this trial; () = all from the cache
    tflite_path: str  # the file in the cache
    cache_file: str  # tflite_path relative to the cache folder (recorded in the manifest)
    trial_s: float
    strip: StripRecord | None = None
    # Keras's validation accuracy after each epoch of the pruned stage's fine-tune (what a
    # multi-fidelity search reports), and the epoch its pruner stopped it at: a stopped trial
    # has no file (zip_bytes 0) and never reaches the front or the choice.
    val_history: tuple[float, ...] = ()
    stopped_at_epoch: int | None = None
    # Set by the driver: the lower confidence bound of val_accuracy (sweep.confidence), the
    # compression against the dense baseline, and, after the choice and for front members
    # only, the accuracy on the whole test set.
    val_lower_bound: float | None = None
    compression_ratio: float | None = None
    test_accuracy: float | None = None

    @property
    def id(self) -> str:
        """The spec's id."""
        return self.spec.id

    def with_compression_ratio(self, dense_zip_bytes: int) -> TrialResult:
        """A copy that knows its compression against the dense baseline's zipped bytes."""
        return dataclasses.replace(
            self, compression_ratio=round(dense_zip_bytes / self.zip_bytes, 3)
        )

    def with_lower_bound(self, confidence: float) -> TrialResult:
        """A copy with the one-sided lower confidence bound of its validation accuracy."""
        bound = lower_confidence_bound(self.val_accuracy, self.val_n, confidence)
        return dataclasses.replace(self, val_lower_bound=round(bound, 5))

    def with_val_history(self, history: tuple[float, ...]) -> TrialResult:
        """A copy with its pruned stage's validation accuracy after each epoch."""
        return dataclasses.replace(self, val_history=history)

    def with_test_accuracy(self, accuracy: float) -> TrialResult:
        """A copy with its accuracy on the test set (measured after the choice)."""
        return dataclasses.replace(self, test_accuracy=round(accuracy, 5))

    @property
    def choice_accuracy(self) -> float:
        """What the floor is held against: the lower bound when there is one, else val."""
        return self.val_accuracy if self.val_lower_bound is None else self.val_lower_bound

    def to_dict(self) -> dict[str, Any]:
        """The trial as the manifest's ``sweep.trials`` records it (the cache path left out)."""
        s = self.spec
        out: dict[str, Any] = {
            "id": s.id,
            "recipe": s.recipe,
            "recipe_type": self.recipe_type,
            "overrides": dict(s.overrides),
            "sparsity": s.sparsity,
            "clusters": s.clusters,
            "quantization": s.quantization,
            "qat_scheme": s.qat_scheme,
            "kind": s.kind.value,
            "zip_bytes": self.zip_bytes,
            "file_bytes": self.file_bytes,
            "strip": None if self.strip is None else self.strip.to_dict(),
            "val_accuracy": self.val_accuracy,
            "val_n": self.val_n,
            "val_lower_bound": self.val_lower_bound,
            "test_accuracy": self.test_accuracy,
            "stages": {k: dict(v) for k, v in self.stages.items()},
            "trained": list(self.trained),
            "cache_file": self.cache_file,
            "trial_s": self.trial_s,
            "val_history": list(self.val_history),
            "stopped_at_epoch": self.stopped_at_epoch,
        }
        if self.compression_ratio is not None:
            out["compression_ratio"] = self.compression_ratio
        return out


def lower_confidence_bound(accuracy: float, n: int, confidence: float) -> float:
    """The one-sided Clopper-Pearson lower bound of an accuracy measured on ``n`` samples.

    The exact binomial bound: with probability ``confidence`` the true accuracy is at least
    this. ``confidence = 0`` returns the estimate itself.
    """
    if confidence <= 0.0:
        return accuracy
    correct = int(round(accuracy * n))
    if correct == 0:
        return 0.0
    return float(stats.beta.ppf(1.0 - confidence, correct, n - correct + 1))


@dataclass(frozen=True)
class TaskJob:
    """Everything a worker needs to run trials that share one pruned model."""

    config: PipelineConfig
    cache_root: str
    val_path: str  # the validation split (eval shards): what trials are measured on
    baseline_key: str
    data_fingerprint: str
    trials: tuple[TrialSpec, ...]
    threads: int
    teacher_key: str | None = None  # [train] teacher's cache entry; None: the baseline teaches
    fidelity: Fidelity | None = None  # a multi-fidelity search: where epochs are reported
