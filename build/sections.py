"""The sections of a pipeline config: ``[data]``, ``[model]``, ``[train]``, ``[baseline]``,
``[recipes.<name>]`` and ``[gate]``.

No TensorFlow here: the bench side reads the same file. Each section is a frozen dataclass
whose fields are declared once (:func:`edgebench.declare.setting`: help, unit, bounds, the
flag of the few that ``edgebench build`` overrides) and that checks itself in
``__post_init__`` with a message that starts with the field name and says what is allowed.
The ``[bench]`` section is :class:`~edgebench.records.BenchSettings` plus its ``targets``;
``[sweep]`` is :class:`~edgebench.build.sweep_config.SweepConfig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from edgebench.build.preprocessing import check_spec as check_preprocess
from edgebench.build.recipes import get_recipe
from edgebench.build.recipes.base import RecipeParams
from edgebench.build.sweep_config import check_strip, signatures_setting, strip_setting
from edgebench.declare import check_values, setting
from edgebench.errors import ConfigError
from edgebench.models import BUILTIN_MODELS
from edgebench.records import TFLITE_KINDS, VariantKind

FINE_TUNE = ("auto", "labels", "distill")
VARIANT_NAMES = tuple(k.value for k in TFLITE_KINDS)
METRIC = re.compile(r"^top([1-9][0-9]*)$")
COLORS = {"rgb": 3, "grey": 1, "gray": 1}
_RECIPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_variants(values: Any) -> tuple[VariantKind, ...]:
    """TFLite variant names -> VariantKinds; unknown or repeated names are a ConfigError."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"variants must be a list of names from {', '.join(VARIANT_NAMES)}")
    kinds = []
    for v in values:
        if v not in VARIANT_NAMES:
            raise ConfigError(
                f"variants: unknown variant {v!r}; valid variants: {', '.join(VARIANT_NAMES)}"
            )
        if VariantKind(v) in kinds:
            raise ConfigError(f"variants lists {v!r} twice")
        kinds.append(VariantKind(v))
    return tuple(kinds)


@dataclass(frozen=True)
class DataConfig:
    """[data]: which dataset, how much of it (0 = all), and how samples become model inputs."""

    toml_section: ClassVar[str] = "data"

    dataset: str = setting(
        "fashion_mnist", example="mnist",
        help="a name (fashion_mnist, mnist), a folder of MNIST-format IDX files or of images, "
        "or an .npz with x_train, y_train, x_test, y_test",
    )
    train_limit: int = setting(0, minimum=0, flag="--train-limit",
                               help="use the first N training samples; 0 = all")
    test_limit: int = setting(0, minimum=0, flag="--test-limit",
                              help="use the first N test samples; 0 = all")
    preprocess: str | dict[str, str] = setting(
        "unit", example="symmetric",
        help='how samples become model inputs: unit, symmetric, imagenet, none or '
        '"module:function", or a table of those by input name',
    )
    metric: str = setting("top1", example="top5", help="the accuracy metric: top1, top5, … "
                          "(top-K accuracy, where there are labels)")
    image_size: tuple[int, ...] = setting(
        (), unit="px", example=[224, 224],
        help="[height, width] of the images of an image folder, for a builtin model",
    )
    color: str = setting("rgb", example="grey",
                         help="an image folder for a builtin model: rgb or grey")
    label_output: str | None = setting(
        None, example="logits", help="which output the labels are for (several outputs)"
    )
    calibration_samples: int = setting(
        300, minimum=1, help="int8 representative samples, drawn from the training data"
    )

    def __post_init__(self) -> None:
        if not self.dataset.strip():
            raise ConfigError("dataset must name a dataset (fashion_mnist, mnist) or a path")
        check_values(self)
        check_preprocess(self.preprocess)
        if not METRIC.match(self.metric):
            raise ConfigError(f"metric must be top1, top5, … (topK); got {self.metric!r}")
        if self.image_size and (
            len(self.image_size) != 2 or min(self.image_size) < 1
        ):
            raise ConfigError(
                f"image_size must be [height, width] in pixels; got {list(self.image_size)}"
            )
        if self.color not in COLORS:
            raise ConfigError(f"color must be 'rgb' or 'grey'; got {self.color!r}")

    @property
    def top_k(self) -> int:
        match = METRIC.match(self.metric)
        assert match is not None
        return int(match.group(1))

    @property
    def channels(self) -> int:
        return COLORS[self.color]


@dataclass(frozen=True)
class ModelConfig:
    """[model]: a builtin model name, or the path of the user's Keras model (.keras / .h5)."""

    toml_section: ClassVar[str] = "model"

    builtin: str | None = setting(
        None, choices=tuple(BUILTIN_MODELS), example="pruning_guide",
        help='a builtin model; "pruning_guide" when no path is given',
    )
    path: Path | None = setting(
        None, relative=True, example="my_model.keras",
        help="your trained model, used as the dense baseline as it is: a .keras / .h5 file "
        "(tf-keras or Keras 3) or a SavedModel folder; relative to the config file",
    )
    options: dict[str, Any] = setting(factory=dict,
                                      help="keyword arguments of the builtin model")
    custom_objects: str | None = setting(
        None, example="my_layers",
        help="a module (or .py file) that registers your tf-keras layers",
    )

    def __post_init__(self) -> None:
        if self.path is None and self.builtin is None:
            object.__setattr__(self, "builtin", "pruning_guide")
        if self.path is not None:
            if self.builtin is not None:
                raise ConfigError("builtin and path are exclusive; keep one of them")
            if self.options:
                raise ConfigError("options apply to a builtin model; remove them with path")
            if Path(self.path).suffix not in (".keras", ".h5", ""):
                raise ConfigError(
                    "path must be a .keras or .h5 file or a SavedModel folder; got "
                    f"{str(self.path)!r}"
                )
        elif self.builtin not in BUILTIN_MODELS:
            raise ConfigError(
                f"builtin must be one of {', '.join(BUILTIN_MODELS)}; got {self.builtin!r}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """[train]: how the dense baseline is trained (recipes reuse batch size and rate)."""

    toml_section: ClassVar[str] = "train"

    epochs: int = setting(4, minimum=1, flag="--epochs",
                          help="training epochs of the dense baseline")
    batch_size: int = setting(128, minimum=1, help="samples per training step")
    learning_rate: float = setting(0.001, above=0, help="the optimizer's (starting) rate")
    lr_schedule: str = setting("constant", choices=("constant", "cosine"),
                               help="constant, or cosine: decays to 2% over all epochs")
    validation_split: float = setting(
        0.1, help="share of the training data Keras holds out while training, in [0, 1)"
    )
    seed: int = setting(0, help="seeds initialisation, shuffling and the split")
    fine_tune: str = setting(
        "auto", choices=FINE_TUNE,
        help="how recipes fine-tune: labels, distill (from the dense model's outputs, a loss "
        "per output), or auto (labels where the data has them, distillation for the rest)",
    )
    output_weights: dict[str, float] = setting(
        factory=dict, help="the loss weight of each output by name (several outputs)"
    )
    teacher: str = setting(
        "", example="teacher_cnn",
        help="what distilled fine-tunes (pruning, clustering, QAT) learn from in a sweep: "
        '"" = the dense baseline itself, a builtin model name (e.g. teacher_cnn: trained once '
        "on the same data and cached), or a trained .keras / .h5 file or SavedModel folder "
        "(relative to the config file)",
    )
    teacher_epochs: int = setting(12, minimum=1,
                                  help="training epochs of a builtin teacher (cosine schedule)")

    def __post_init__(self) -> None:
        check_values(self)
        for name, w in self.output_weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                raise ConfigError(
                    f"output_weights.{name} must be a number >= 0; got {w!r}"
                )
        if not 0.0 <= self.validation_split < 1.0:
            raise ConfigError(f"validation_split must be in [0, 1); got {self.validation_split}")
        if self.teacher and not teacher_is_builtin(self.teacher) and not teacher_is_path(
            self.teacher
        ):
            raise ConfigError(
                f"teacher {self.teacher!r} is neither a builtin model "
                f"({', '.join(BUILTIN_MODELS)}) nor a .keras / .h5 file or SavedModel folder; "
                'give one of those, or "" to distil from the dense baseline itself'
            )


def teacher_is_builtin(teacher: str) -> bool:
    """Whether ``[train] teacher`` names a builtin model (else it is a path)."""
    return teacher in BUILTIN_MODELS


def teacher_is_path(teacher: str) -> bool:
    """Whether ``[train] teacher`` reads as a model file or SavedModel folder."""
    return teacher.endswith((".keras", ".h5")) or "/" in teacher or Path(teacher).is_dir()


@dataclass(frozen=True)
class BaselineConfig:
    """[baseline]: TFLite variants of the dense baseline (its Keras file is always kept)."""

    toml_section: ClassVar[str] = "baseline"

    variants: tuple[VariantKind, ...] = setting(
        (VariantKind.FLOAT32,), from_toml=parse_variants, shown="float32",
        help=f"TFLite variants of the dense baseline, from {', '.join(VARIANT_NAMES)}",
    )


@dataclass(frozen=True, kw_only=True)
class RecipeConfig:
    """One [recipes.<name>] section: a registered recipe, its params, its TFLite variants.

    ``name`` is the section's name and ``params`` the recipe's own keys (its params
    dataclass); the other fields are keys of every recipe section. Built by keyword only:
    ``recipe`` has no default, but a checker reads its ``setting(...)`` as one.
    """

    name: str
    recipe: str = setting(example="gradual", help="the registered recipe this section runs, "
                          "e.g. prune_after_training")
    params: RecipeParams  # the section's other keys: the recipe's own params dataclass
    variants: tuple[VariantKind, ...] = setting(
        TFLITE_KINDS, from_toml=parse_variants,
        help=f"TFLite variants of the recipe's model, from {', '.join(VARIANT_NAMES)}",
    )
    strip: str = strip_setting(
        'edgebench.build.strip on every TFLite variant: true (tensor names, signature '
        'defs, converter metadata), false, or "keep-signatures"'
    )
    signatures: bool = signatures_setting("the app runs these variants with get_signature_runner()")

    def __post_init__(self) -> None:
        check_strip(self.strip, self.signatures)
        if not _RECIPE_NAME.match(self.name) or self.name == "baseline":
            raise ConfigError(
                f"recipe section name {self.name!r} must be letters, digits, '_', '-' or '.' "
                "and not 'baseline' (it names files and variants)"
            )
        cls = get_recipe(self.recipe).params_cls
        if not isinstance(self.params, cls):
            raise ConfigError(f"params of recipe {self.recipe!r} must be a {cls.__name__}")


#: The keys of a [recipes.<name>] section that are not the recipe's own parameters.
RECIPE_KEYS = ("recipe", "variants", "strip", "signatures")


@dataclass(frozen=True)
class GateConfig:
    """[gate]: the budgets that ``edgebench gate`` and ``edgebench run`` hold results to."""

    toml_section: ClassVar[str] = "gate"

    budgets: Path | None = setting(
        None, flag="--budgets", parse=Path, metavar="TOML", relative=True,
        example="budgets.toml",
        help="budgets TOML: limits per variant name or glob (in [gate], relative to the "
        "config file)",
    )
