"""The ``[sweep]`` section of a pipeline config: what ``edgebench sweep`` searches.

No TensorFlow here. The sweep takes the ``[recipes.<name>]`` sections it names as templates
and replaces their target sparsity; everything else (data, model, baseline training) comes
from the rest of the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from edgebench.declare import check_values, setting
from edgebench.errors import ConfigError
from edgebench.values import probability

SEARCHES = ("grid", "optuna")
PRUNERS = ("none", "hyperband", "successive_halving")  # Optuna's, for search = "optuna"
# int8-per-tensor: int8 with one scale per Dense kernel (pipeline.convert's dense_per_tensor)
QUANTIZATIONS = ("int8", "int8-per-tensor", "dynamic", "float16", "float32", "qat")
# strip: "none"; "all" (tensor names, signature defs, converter metadata); "keep-signatures"
STRIP_MODES = ("none", "all", "keep-signatures")


def strip_value(value: Any) -> str:
    """``strip = true | false | "keep-signatures"`` in TOML as one of :data:`STRIP_MODES`."""
    if value is True:
        return "all"
    if value is False:
        return "none"
    if value == "keep-signatures":
        return value
    raise ConfigError(f'strip must be true, false or "keep-signatures"; got {value!r}')


def check_strip(strip: str, signatures: bool) -> None:
    """``strip = true`` removes the signature defs a signature-running app needs: refuse it."""
    if strip not in STRIP_MODES:
        raise ConfigError(f'strip must be true, false or "keep-signatures"; got {strip!r}')
    if strip == "all" and signatures:
        raise ConfigError(
            "strip = true removes the signature defs that get_signature_runner() needs "
            '(signatures = true); set strip = "keep-signatures" (tensor names and converter '
            "metadata only) or strip = false, or run the model by tensor index and drop "
            "signatures = true"
        )


def strip_setting(help: str) -> Any:
    """The ``strip`` setting (read by :func:`strip_value`, checked by :func:`check_strip`)."""
    return setting("none", from_toml=strip_value, shown="false", example=True, help=help)


def signatures_setting(help: str) -> Any:
    """The ``signatures`` setting: the app runs get_signature_runner() (see ``strip``)."""
    return setting(False, help=help)


@dataclass(frozen=True)
class SweepConfig:
    """recipe x sparsity x clusters x quantisation, and the accuracy floor to choose by.

    ``clusters = 0`` means no clustering. ``quantization``: ``int8`` (post-training full
    integer), ``int8-per-tensor`` (the same, one scale per Dense kernel), ``dynamic``,
    ``float16``, ``float32``, or ``qat`` (PQAT; PCQAT when clustered). Exactly one of
    ``min_accuracy`` (absolute) and ``max_accuracy_drop`` (below the dense baseline's
    validation accuracy) sets the floor.

    ``validation_split`` of the training data is held out by a permutation seeded with
    ``seed``: the baseline and every stage train on the rest, and the variant is chosen on it
    (Optuna optimises it too); the test set is measured only after the choice. With
    ``confidence`` > 0 the floor applies to the one-sided lower confidence bound of each
    trial's validation accuracy at that level (Clopper-Pearson, over the split's size), not to
    the estimate itself. ``vary`` adds recipe parameters to the search space
    (``(("distill_alpha", (0.5, 0.7)),)``). ``strip`` removes the names and metadata only the
    converter reads from every TFLite file (:mod:`edgebench.build.strip`).
    """

    toml_section: ClassVar[str] = "sweep"

    recipes: tuple[str, ...] = setting(
        (), example=["gradual"],
        help="the [recipes.<name>] sections to sweep: templates whose sparsity each point "
        "replaces",
    )
    sparsities: tuple[float, ...] = setting((0.9,), help="target sparsities, each in [0, 1)")
    clusters: tuple[int, ...] = setting(
        (0,), help="sparsity-preserving clustering to this many values per layer; 0 = none"
    )
    quantization: tuple[str, ...] = setting(
        ("int8",), choices=QUANTIZATIONS,
        help="int8 (post-training full integer), int8-per-tensor (one scale per Dense "
        "kernel), dynamic, float16, float32, or qat (PQAT; PCQAT when clustered)",
    )
    search: str = setting("grid", choices=SEARCHES,
                          help="grid, or optuna (multi-objective TPE; set trials)")
    trials: int = setting(0, minimum=0,
                          help="optuna: the number of trials; 0 = as many as the grid has")
    pruner: str = setting(
        "none", choices=PRUNERS,
        help="optuna: stop hopeless trials while they prune, from the validation accuracy "
        "each epoch reports: hyperband, successive_halving, or none",
    )
    pruner_min_epochs: int = setting(
        1, minimum=1, help="optuna's pruner: epochs every trial runs before it may be stopped"
    )
    pruner_reduction_factor: int = setting(
        3, minimum=2, help="optuna's pruner: 1 in this many trials goes on at each rung"
    )
    min_accuracy: float | None = setting(
        None, example=0.88,
        help="the accuracy floor on the validation split; set this or max_accuracy_drop",
    )
    max_accuracy_drop: float | None = setting(
        None, example=0.02,
        help="the floor as a drop below the dense baseline's validation accuracy; set this or "
        "min_accuracy",
    )
    workers: int = setting(2, minimum=1, flag="--workers", help="local worker processes")
    cache_dir: str = setting("cache", example="sweep-cache",
                             help="the trained-artifact cache, relative to --out")
    cluster_epochs: int = setting(2, minimum=1, help="fine-tuning epochs of clustering")
    cluster_learning_rate: float = setting(1e-4, above=0,
                                           help="the learning rate of clustering's fine-tune")
    qat_epochs: int = setting(1, minimum=1, help="epochs of quantisation-aware training")
    # 1e-5 moved the weights about one int8 step in an epoch; 1e-4 gave +0.13 / +0.01 points
    # of validation accuracy on seeds 0 / 1 (commit 8560eca).
    qat_learning_rate: float = setting(1e-4, above=0,
                                       help="the learning rate of quantisation-aware training")
    seed: int = setting(
        0, flag="--seed",
        help="the validation split's permutation (and Optuna's sampler); --seed also sets "
        "[train] seed (initialisation and shuffles), so one flag gives an independent run",
    )
    validation_split: float = setting(
        0.1, flag="--validation-split", parse=probability, metavar="SHARE",
        help="share of the training data held out to choose on, in (0, 1)",
    )
    confidence: float = setting(
        0.0, help="hold the one-sided lower confidence bound of each trial's validation "
        "accuracy, at this level, to the floor; 0 = the accuracy itself",
    )
    vary: tuple[tuple[str, tuple[Any, ...]], ...] = setting(
        (), example={"distill_alpha": [0.5, 0.7]},
        help="[sweep.vary]: recipe parameters to search, each a list of values",
    )
    strip: str = strip_setting(
        'drop what only the converter reads from every TFLite file: true (tensor names, '
        'signature defs, converter metadata), false, or "keep-signatures"'
    )
    signatures: bool = signatures_setting(
        "the app runs Interpreter.get_signature_runner(): keep signature defs"
    )

    def __post_init__(self) -> None:
        check_strip(self.strip, self.signatures)
        if not 0.0 < self.validation_split < 1.0:
            raise ConfigError(
                f"validation_split must be in (0, 1), e.g. 0.1: the sweep chooses on that "
                f"held-out share of the training data; got {self.validation_split}"
            )
        if not 0.0 <= self.confidence < 1.0:
            raise ConfigError(
                f"confidence must be in [0, 1), e.g. 0.95 (0 = the floor applies to the "
                f"validation accuracy itself); got {self.confidence}"
            )
        for key, values in self.vary:
            if not values:
                raise ConfigError(f"vary.{key} must list at least one value")
            if len(set(map(repr, values))) != len(values):
                raise ConfigError(f"vary.{key} lists a value twice: {list(values)}")
        if not self.recipes:
            raise ConfigError("recipes must name at least one [recipes.<name>] section to sweep")
        if len(set(self.recipes)) != len(self.recipes):
            raise ConfigError(f"recipes names a section twice: {list(self.recipes)}")
        if not self.sparsities:
            raise ConfigError("sparsities must list at least one target, e.g. [0.9]")
        for s in self.sparsities:
            if not 0.0 <= s < 1.0:
                raise ConfigError(f"sparsities must be in [0, 1); got {s}")
        for k in self.clusters:
            if k != 0 and k < 2:
                raise ConfigError(f"clusters must be 0 (no clustering) or >= 2; got {k}")
        if not self.clusters:
            raise ConfigError("clusters must list at least one value; [0] = no clustering")
        for q in self.quantization:
            if q not in QUANTIZATIONS:
                raise ConfigError(
                    f"quantization: unknown mode {q!r}; valid modes: {', '.join(QUANTIZATIONS)}"
                )
        if not self.quantization:
            raise ConfigError('quantization must list at least one mode, e.g. ["int8"]')
        for name in ("sparsities", "clusters", "quantization"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ConfigError(f"{name} lists a value twice: {list(values)}")
        if (self.min_accuracy is None) == (self.max_accuracy_drop is None):
            raise ConfigError(
                "set exactly one of min_accuracy (e.g. 0.88) and max_accuracy_drop "
                "(e.g. 0.02 below the dense baseline)"
            )
        if self.min_accuracy is not None and not 0.0 <= self.min_accuracy <= 1.0:
            raise ConfigError(f"min_accuracy must be in [0, 1]; got {self.min_accuracy}")
        if self.max_accuracy_drop is not None and not 0.0 <= self.max_accuracy_drop <= 1.0:
            raise ConfigError(f"max_accuracy_drop must be in [0, 1]; got {self.max_accuracy_drop}")
        if self.pruner != "none" and self.search != "optuna":
            raise ConfigError(
                f'pruner = "{self.pruner}" stops Optuna trials; set search = "optuna" or '
                'pruner = "none"'
            )
        if not self.cache_dir.strip():
            raise ConfigError('cache_dir must name a folder, e.g. "cache"')
        check_values(self)

    @property
    def grid_size(self) -> int:
        """The number of points of the search space (before invalid ones are skipped)."""
        size = len(self.recipes) * len(self.sparsities) * len(self.clusters)
        for _, values in self.vary:
            size *= len(values)
        return size * len(self.quantization)

    def floor(self, baseline_accuracy: float) -> float:
        """The validation accuracy (or its lower bound) a variant needs to be chosen."""
        if self.min_accuracy is not None:
            return self.min_accuracy
        assert self.max_accuracy_drop is not None, "__post_init__ requires exactly one of the two"
        return baseline_accuracy - float(self.max_accuracy_drop)
