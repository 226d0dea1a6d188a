"""The pipeline config (``models/pipeline.toml``): loading, validation, defaults.

No TensorFlow here: the bench side reads the same file. Each section is a frozen dataclass
that validates itself in ``__post_init__`` with a message that starts with the field name and
says what is allowed; the loader prefixes the section and names the file. Unknown keys are
rejected with the closest known key.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebench.build.preprocessing import check_spec as check_preprocess
from edgebench.build.recipes import get_recipe, recipe_names
from edgebench.build.recipes.base import RecipeParams
from edgebench.build.sweep_config import SweepConfig, check_strip
from edgebench.errors import ConfigError
from edgebench.models import BUILTIN_MODELS, DEFAULT_PIPELINE, DEFAULT_SWEEP
from edgebench.records import TFLITE_KINDS, BenchSettings, VariantKind

PIPELINE_SCHEMA_VERSION = 1
FINE_TUNE = ("auto", "labels", "distill")
VARIANT_NAMES = tuple(k.value for k in TFLITE_KINDS)
_RECIPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def default_pipeline_path() -> Path:
    """The shipped default pipeline, ``models/pipeline.toml`` inside the package."""
    return DEFAULT_PIPELINE


def default_sweep_path() -> Path:
    """The shipped default sweep, ``models/sweep.toml`` inside the package."""
    return DEFAULT_SWEEP


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


METRIC = re.compile(r"^top([1-9][0-9]*)$")
COLORS = {"rgb": 3, "grey": 1, "gray": 1}


@dataclass(frozen=True)
class DataConfig:
    """[data]: which dataset, how much of it (0 = all), and how samples become model inputs."""

    dataset: str = "fashion_mnist"
    train_limit: int = 0
    test_limit: int = 0
    # unit | symmetric | imagenet | none | "module:function", or a table of those by input
    preprocess: str | dict[str, str] = "unit"
    metric: str = "top1"  # top1, top5, … (topK accuracy where there are labels)
    image_size: tuple[int, ...] = ()  # (height, width) of an image folder for a builtin model
    color: str = "rgb"  # an image folder for a builtin model: rgb or grey
    label_output: str | None = None  # which output the labels are for (several outputs)
    calibration_samples: int = 300  # int8 representative samples, drawn from the training data

    def __post_init__(self) -> None:
        if not self.dataset.strip():
            raise ConfigError("dataset must name a dataset (fashion_mnist, mnist) or a path")
        for name in ("train_limit", "test_limit"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (0 = all); got {getattr(self, name)}")
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
        if self.calibration_samples < 1:
            raise ConfigError(
                f"calibration_samples must be >= 1; got {self.calibration_samples}"
            )

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

    builtin: str | None = None  # "pruning_guide" when no path is given
    # A .keras / .h5 file (tf-keras or Keras 3) or a SavedModel folder, resolved against the
    # config file's folder.
    path: Path | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # builtin's keywords
    custom_objects: str | None = None  # module (or .py file) registering your tf-keras layers

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

    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 0.001
    lr_schedule: str = "constant"  # or "cosine": decays to 2% over all epochs
    validation_split: float = 0.1
    seed: int = 0
    # How recipes fine-tune: "labels", "distill" (from the dense model's outputs, a loss per
    # output), or "auto" (labels where the data has them, distillation for the rest).
    fine_tune: str = "auto"
    output_weights: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fine_tune not in FINE_TUNE:
            raise ConfigError(
                f"fine_tune must be one of {', '.join(FINE_TUNE)}; got {self.fine_tune!r}"
            )
        for name, w in self.output_weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                raise ConfigError(
                    f"output_weights.{name} must be a number >= 0; got {w!r}"
                )
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(
                f"lr_schedule must be 'constant' or 'cosine'; got {self.lr_schedule!r}"
            )
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1; got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; got {self.learning_rate}")
        if not 0.0 <= self.validation_split < 1.0:
            raise ConfigError(f"validation_split must be in [0, 1); got {self.validation_split}")


@dataclass(frozen=True)
class BaselineConfig:
    """[baseline]: TFLite variants of the dense baseline (its Keras file is always kept)."""

    variants: tuple[VariantKind, ...] = (VariantKind.FLOAT32,)


@dataclass(frozen=True)
class RecipeConfig:
    """One [recipes.<name>] section: a registered recipe, its params, its TFLite variants."""

    name: str
    recipe: str
    params: RecipeParams
    variants: tuple[VariantKind, ...] = TFLITE_KINDS
    # edgebench.build.strip on every TFLite variant: "none", "all" (strip = true) or
    # "keep-signatures"
    strip: str = "none"
    signatures: bool = False  # the app runs these variants with get_signature_runner()

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


@dataclass(frozen=True)
class _BenchSection:
    """[bench]: where and how the bench stage measures."""

    targets: tuple[str, ...] = ("local",)
    runs: int = 100
    warmup: int = 10
    threads: int | list = 1  # or a list: every count is measured ("matrix"), e.g. [1, 2, 4]
    xnnpack: bool | list = True  # or [true, false]: both, each its own record
    timeout_s: float = 300.0
    eval_batch: int = 256
    eval_limit: int = 0
    repeats: int = 5  # BenchSettings.repeats says why
    cooldown_s: float = 0.0
    flow: str | None = None  # "runner" or "benchmark_model"; None = the target kind's default
    benchmark_binary: str | None = None  # for the benchmark_model flow; relative to the config
    taskset: str | None = None  # hex CPU mask every measured process is pinned to, e.g. "f0"
    delegate: str | None = None  # "PATH.so[:key=value,...]" for the runner flow
    use_gpu: bool = False  # benchmark_model's GPU delegate
    use_nnapi: bool = False  # benchmark_model's NNAPI delegate
    benchmark_args: tuple[str, ...] = ()  # more benchmark_model flags, passed as they are
    op_profile: bool = False  # benchmark_model's per-operator profile
    hot_start_c: float = 70.0  # warn when a model starts with the SoC hotter than this

    def __post_init__(self) -> None:
        for name, kind, word in (("threads", int, "a whole number >= 1 or a list of them"),
                                 ("xnnpack", bool, "true, false or [true, false]")):
            value = getattr(self, name)
            values = value if isinstance(value, list) else [value]
            if not values or not all(type(v) is kind for v in values):
                raise ConfigError(f"{name} must be {word}; got {value!r}")
            if kind is int and min(values) < 1:
                raise ConfigError(f"{name} must be >= 1; got {value!r}")
        if self.flow not in (None, "runner", "benchmark_model"):
            raise ConfigError(f"flow must be 'runner' or 'benchmark_model'; got {self.flow!r}")
        if self.taskset is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]+", self.taskset):
            raise ConfigError(
                f"taskset must be a hex CPU mask such as \"f0\"; got {self.taskset!r}"
            )
        if not self.targets or not all(t.strip() for t in self.targets):
            raise ConfigError('targets must list at least one target, e.g. ["local"]')
        for name, low in (
            ("runs", 1),
            ("warmup", 0),
            ("eval_batch", 1),
            ("eval_limit", 0),
            ("repeats", 1),
        ):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} must be >= {low}; got {getattr(self, name)}")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s must be > 0; got {self.timeout_s}")
        if not self.cooldown_s >= 0:
            raise ConfigError(f"cooldown_s must be >= 0 seconds; got {self.cooldown_s}")


@dataclass(frozen=True)
class _GateSection:
    budgets: str | None = None


@dataclass(frozen=True)
class PipelineConfig:
    """A whole pipeline config. Build variants with :meth:`with_overrides` or ``replace``."""

    path: Path | None
    sha256: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    baseline: BaselineConfig
    recipes: tuple[RecipeConfig, ...]
    bench: BenchSettings
    targets: tuple[str, ...]
    budgets: Path | None
    sweep: SweepConfig | None = None  # [sweep]: what edgebench sweep searches

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are resolved against."""
        return self.path.resolve().parent if self.path else Path.cwd()

    def recipe(self, name: str) -> RecipeConfig:
        for r in self.recipes:
            if r.name == name:
                return r
        raise KeyError(name)

    def with_overrides(
        self,
        *,
        train_limit: int | None = None,
        test_limit: int | None = None,
        epochs: int | None = None,
        recipe_epochs: int | None = None,
    ) -> PipelineConfig:
        """A copy with smaller data or shorter training (tests, smoke runs); re-validated."""
        data = dataclasses.replace(
            self.data,
            train_limit=self.data.train_limit if train_limit is None else train_limit,
            test_limit=self.data.test_limit if test_limit is None else test_limit,
        )
        train = self.train if epochs is None else dataclasses.replace(self.train, epochs=epochs)
        recipes = self.recipes
        if recipe_epochs is not None:
            recipes = tuple(
                dataclasses.replace(r, params=dataclasses.replace(r.params, epochs=recipe_epochs))
                for r in recipes
            )
        return dataclasses.replace(self, data=data, train=train, recipes=recipes)


# --------------------------------------------------------------------------- loading


def load_pipeline(path: Path) -> PipelineConfig:
    """Read and validate a pipeline TOML file; every problem is a ConfigError naming the fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"pipeline config {path} does not exist; pass an existing file or use the "
            f"default {default_pipeline_path()}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read pipeline config {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8 TOML") from None
    return parse_pipeline(text, path=path, sha256=hashlib.sha256(raw).hexdigest())


def parse_pipeline(
    text: str, *, path: Path | None = None, sha256: str | None = None
) -> PipelineConfig:
    """Validate pipeline TOML text; relative paths resolve against ``path``'s folder (or cwd)."""
    where = str(path) if path is not None else "<pipeline text>"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}; fix that line") from None
    sha = sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    base = path.resolve().parent if path is not None else Path.cwd()

    _reject_unknown(
        doc,
        (
            "schema_version",
            "data",
            "model",
            "train",
            "baseline",
            "recipes",
            "bench",
            "gate",
            "sweep",
        ),
        "the top level",
        where,
    )
    version = doc.get("schema_version")
    if version is None:
        raise ConfigError(f"{where} has no schema_version; add `schema_version = 1` at the top")
    if version != PIPELINE_SCHEMA_VERSION:
        raise ConfigError(
            f"{where} has schema_version {version!r}; this edgebench reads version "
            f"{PIPELINE_SCHEMA_VERSION}"
        )

    data = _section(DataConfig, _table(doc, "data", where), "data", where)
    model_table = dict(_table(doc, "model", where))
    if "path" in model_table:
        if not isinstance(model_table["path"], str):
            raise ConfigError(f"model.path must be a string in {where}")
        model_table["path"] = base / model_table["path"]
    model = _section(ModelConfig, model_table, "model", where)
    train = _section(TrainConfig, _table(doc, "train", where), "train", where)

    baseline_table = _table(doc, "baseline", where)
    _reject_unknown(baseline_table, ("variants",), "[baseline]", where)
    baseline = BaselineConfig(
        variants=_variants(baseline_table.get("variants", ["float32"]), "baseline", where)
    )

    recipes_table = _table(doc, "recipes", where)
    recipes = []
    for name, table in recipes_table.items():
        if not isinstance(table, dict):
            raise ConfigError(f"recipes.{name} must be a [recipes.{name}] table in {where}")
        recipes.append(_recipe(name, table, where))

    bench_section = _section(_BenchSection, _table(doc, "bench", where), "bench", where)
    gate = _section(_GateSection, _table(doc, "gate", where), "gate", where)
    return PipelineConfig(
        path=path,
        sha256=sha,
        data=data,
        model=model,
        train=train,
        baseline=baseline,
        recipes=tuple(recipes),
        bench=BenchSettings(
            **{
                f.name: (tuple(v) if isinstance(v := getattr(bench_section, f.name), list)
                         else v)
                for f in dataclasses.fields(BenchSettings)
                if f.name != "benchmark_binary"
            },
            benchmark_binary=(
                str(base / bench_section.benchmark_binary)
                if bench_section.benchmark_binary else None
            ),
        ),
        targets=bench_section.targets,
        budgets=base / gate.budgets if gate.budgets else None,
        sweep=_sweep(doc["sweep"], recipes, where) if "sweep" in doc else None,
    )


def _sweep(table: Any, recipes: list[RecipeConfig], where: str) -> SweepConfig:
    """[sweep]: lists of numbers are checked here; the dataclass checks the values."""
    if not isinstance(table, dict):
        raise ConfigError(f"sweep must be a [sweep] table in {where}")
    lists = {"sparsities": float, "clusters": int, "recipes": str, "quantization": str}
    scalars = {k: v for k, v in table.items() if k not in lists and k not in ("vary", "strip")}
    sweep_fields = {f.name for f in dataclasses.fields(SweepConfig)}
    _reject_unknown(table, sorted(sweep_fields), "[sweep]", where)
    kwargs: dict[str, Any] = {}
    if "strip" in table:
        kwargs["strip"] = strip_mode(table["strip"], "sweep.strip", where)
    if "vary" in table:
        kwargs["vary"] = _sweep_vary(table["vary"], recipes, table.get("recipes", []), where)
    for key, tp in lists.items():
        if key not in table:
            continue
        value = table[key]
        ok = isinstance(value, list) and all(
            isinstance(v, tp) or (tp is float and isinstance(v, int))
            for v in value
            if not isinstance(v, bool)
        )
        if not ok or any(isinstance(v, bool) for v in value):
            word = {float: "numbers", int: "whole numbers", str: "strings"}[tp]
            raise ConfigError(f"sweep.{key} must be a list of {word}; got {value!r} (in {where})")
        kwargs[key] = tuple(tp(v) for v in value)
    section = _section(_SweepScalars, scalars, "sweep", where)
    kwargs.update({f.name: getattr(section, f.name) for f in dataclasses.fields(_SweepScalars)})
    try:
        sweep = SweepConfig(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"sweep.{exc} (in {where})") from None
    known = {r.name: r for r in recipes}
    for name in sweep.recipes:
        if name not in known:
            raise ConfigError(
                f"sweep.recipes names {name!r}, which is no [recipes.<name>] section of {where}; "
                f"sections: {', '.join(known) or 'none'}"
            )
        for s in sweep.sparsities:
            try:
                params = known[name].params.with_sparsity(s)
                for key, values in sweep.vary:
                    for value in values:
                        dataclasses.replace(params, **{key: value})
            except ConfigError as exc:
                raise ConfigError(
                    f"sweep: recipes.{name} at sparsity {s}: {exc} (in {where})"
                ) from None
    return sweep


def strip_mode(value: Any, key: str, where: str) -> str:
    """``strip = true | false | "keep-signatures"`` as one of sweep_config.STRIP_MODES."""
    if value is True:
        return "all"
    if value is False:
        return "none"
    if value == "keep-signatures":
        return value
    raise ConfigError(f'{key} must be true, false or "keep-signatures"; got {value!r} (in {where})')


def _sweep_vary(
    table: Any, recipes: list[RecipeConfig], names: Any, where: str
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """[sweep.vary]: recipe parameters to search, each a list of values, e.g. distill_alpha."""
    if not isinstance(table, dict):
        raise ConfigError(
            f"sweep.vary must be a table of recipe parameters, e.g. "
            f"[sweep.vary] distill_alpha = [0.5, 0.7] (in {where})"
        )
    swept = [r for r in recipes if r.name in (names if isinstance(names, list) else [])]
    out = []
    for key, values in table.items():
        if key == "sparsity":
            raise ConfigError(f"sweep.vary.sparsity: use sweep.sparsities instead (in {where})")
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"sweep.vary.{key} must be a non-empty list of values; got {values!r} (in {where})"
            )
        for r in swept:
            fields = {f.name for f in dataclasses.fields(r.params)}
            if key not in fields:
                raise ConfigError(
                    f"sweep.vary.{key}: recipes.{r.name} ({r.recipe}) has no parameter {key!r}; "
                    f"its parameters: {', '.join(sorted(fields))} (in {where})"
                )
            hint = typing.get_type_hints(type(r.params))[key]
            values = [_check_type(v, hint, f"sweep.vary.{key}", where) for v in values]
        out.append((key, tuple(values)))
    return tuple(out)


@dataclass(frozen=True)
class _SweepScalars:
    search: str = "grid"
    trials: int = 0
    min_accuracy: float | None = None
    max_accuracy_drop: float | None = None
    workers: int = 2
    cache_dir: str = "cache"
    cluster_epochs: int = 2
    cluster_learning_rate: float = 1e-4
    qat_epochs: int = 1
    qat_learning_rate: float = 1e-5
    seed: int = 0
    validation_split: float = 0.1
    confidence: float = 0.0
    signatures: bool = False


def _recipe(name: str, table: dict[str, Any], where: str) -> RecipeConfig:
    section = f"recipes.{name}"
    if "recipe" not in table:
        raise ConfigError(
            f"[{section}] in {where} has no `recipe = ...`; registered recipes: "
            f"{', '.join(recipe_names())}"
        )
    try:
        recipe = get_recipe(table["recipe"])
    except ConfigError as exc:
        raise ConfigError(f"{section}.recipe: {exc} (in {where})") from None
    own = ("recipe", "variants", "strip", "signatures")
    params_table = {k: v for k, v in table.items() if k not in own}
    params = _section(recipe.params_cls, params_table, section, where, also=own)
    variants = _variants(table.get("variants", list(VARIANT_NAMES)), section, where)
    strip = strip_mode(table.get("strip", False), f"{section}.strip", where)
    signatures = _check_type(table.get("signatures", False), bool, f"{section}.signatures", where)
    try:
        return RecipeConfig(
            name=name,
            recipe=recipe.name,
            params=params,
            variants=variants,
            strip=strip,
            signatures=signatures,
        )
    except ConfigError as exc:
        raise ConfigError(f"{section}: {exc} (in {where})") from None


def _variants(values: Any, section: str, where: str) -> tuple[VariantKind, ...]:
    try:
        return parse_variants(values)
    except ConfigError as exc:
        raise ConfigError(f"{section}.{exc} (in {where})") from None


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a [{key}] table in {where}")
    return value


def _reject_unknown(table: dict[str, Any], known: Any, section: str, where: str) -> None:
    known = list(known)
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(f"unknown key {key!r} in {section} of {where}; {hint}")


def _section(
    cls: type,
    table: dict[str, Any],
    section: str,
    where: str,
    *,
    also: tuple[str, ...] = (),
) -> Any:
    """Build a section dataclass from a TOML table: unknown keys, types, then its own checks."""
    fields = [f.name for f in dataclasses.fields(cls)]
    _reject_unknown(table, [*fields, *also], f"[{section}]", where)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in table.items():
        kwargs[key] = _check_type(value, hints[key], f"{section}.{key}", where)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{section}.{exc} (in {where})") from None


def _check_type(value: Any, tp: Any, key: str, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = options[0] if len(options) == 1 else tp
        origin = typing.get_origin(tp)
    if tp is Path and isinstance(value, Path):
        return value
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if isinstance(value, list) and all(
            isinstance(v, inner) and not isinstance(v, bool) for v in value
        ):
            return tuple(value)
        word = "strings" if inner is str else "whole numbers"
        raise ConfigError(f"{key} must be a list of {word}; got {value!r} (in {where})")
    if origin is dict:
        if isinstance(value, dict):
            return dict(value)
        raise ConfigError(f"{key} must be a table; got {value!r} (in {where})")
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(tp, True)
    if not ok:
        raise ConfigError(f"{key} must be {_TYPE_WORDS.get(tp, tp)}; got {value!r} (in {where})")
    return float(value) if tp is float else value


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
