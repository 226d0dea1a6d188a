"""The pipeline config (``models/pipeline.toml``): the whole file, loaded and checked.

No TensorFlow here: the bench side reads the same file. Each section is a declared dataclass
(:mod:`edgebench.build.sections`, :class:`~edgebench.records.BenchSettings` for ``[bench]``,
:class:`~edgebench.build.sweep_config.SweepConfig` for ``[sweep]``) that validates itself with a
message that starts with the field name and says what is allowed; :mod:`edgebench.declare`
reads each table into its dataclass, prefixes the section and names the file. Unknown keys
are rejected with the closest known key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebench.build.recipes import get_recipe, recipe_names
from edgebench.build.sections import (
    RECIPE_KEYS,
    BaselineConfig,
    DataConfig,
    GateConfig,
    ModelConfig,
    RecipeConfig,
    TrainConfig,
    parse_variants,
)
from edgebench.build.sweep_config import SweepConfig
from edgebench.declare import check_type, from_table, reject_unknown
from edgebench.errors import ConfigError
from edgebench.models import DEFAULT_PIPELINE, DEFAULT_SWEEP
from edgebench.records import BenchSettings, BenchTargets

__all__ = [
    "BaselineConfig",
    "DataConfig",
    "GateConfig",
    "ModelConfig",
    "PipelineConfig",
    "RecipeConfig",
    "TrainConfig",
    "default_pipeline_path",
    "default_sweep_path",
    "load_pipeline",
    "parse_pipeline",
    "parse_variants",
]

PIPELINE_SCHEMA_VERSION = 1
#: The tables of a pipeline config.
SECTIONS = ("data", "model", "train", "baseline", "recipes", "bench", "gate", "sweep")


def default_pipeline_path() -> Path:
    """The shipped default pipeline, ``models/pipeline.toml`` inside the package."""
    return DEFAULT_PIPELINE


def default_sweep_path() -> Path:
    """The shipped default sweep, ``models/sweep.toml`` inside the package."""
    return DEFAULT_SWEEP


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

    reject_unknown(doc, ("schema_version", *SECTIONS), "the top level", where)
    version = doc.get("schema_version")
    if version is None:
        raise ConfigError(f"{where} has no schema_version; add `schema_version = 1` at the top")
    if version != PIPELINE_SCHEMA_VERSION:
        raise ConfigError(
            f"{where} has schema_version {version!r}; this edgebench reads version "
            f"{PIPELINE_SCHEMA_VERSION}"
        )

    def section(cls: type, name: str) -> Any:
        return from_table(cls, _table(doc, name, where), name, where, base=base)

    data, model = section(DataConfig, "data"), section(ModelConfig, "model")
    train, baseline = section(TrainConfig, "train"), section(BaselineConfig, "baseline")
    recipes = []
    for name, table in _table(doc, "recipes", where).items():
        if not isinstance(table, dict):
            raise ConfigError(f"recipes.{name} must be a [recipes.{name}] table in {where}")
        recipes.append(_recipe(name, table, where))
    bench, targets = _bench(_table(doc, "bench", where), base, where)
    return PipelineConfig(
        path=path,
        sha256=sha,
        data=data,
        model=model,
        train=train,
        baseline=baseline,
        recipes=tuple(recipes),
        bench=bench,
        targets=targets.targets,
        budgets=section(GateConfig, "gate").budgets,
        sweep=_sweep(doc["sweep"], recipes, where) if "sweep" in doc else None,
    )


def _bench(table: dict[str, Any], base: Path, where: str) -> tuple[BenchSettings, BenchTargets]:
    """[bench]: how to measure (BenchSettings, what a results file keeps) and where."""
    where_keys = tuple(f.name for f in dataclasses.fields(BenchTargets))
    how = {k: v for k, v in table.items() if k not in where_keys}
    settings = from_table(BenchSettings, how, "bench", where, base=base, also=where_keys)
    targets = from_table(BenchTargets, {k: table[k] for k in where_keys if k in table}, "bench",
                         where)
    return settings, targets


def _sweep(table: Any, recipes: list[RecipeConfig], where: str) -> SweepConfig:
    """[sweep]: [sweep.vary] is checked against the recipes here; the dataclass checks the rest."""
    if not isinstance(table, dict):
        raise ConfigError(f"sweep must be a [sweep] table in {where}")
    reject_unknown(table, [f.name for f in dataclasses.fields(SweepConfig)], "[sweep]", where)
    parsed = {}
    if "vary" in table:
        parsed["vary"] = _sweep_vary(table["vary"], recipes, table.get("recipes", []), where)
    sweep = from_table(SweepConfig, table, "sweep", where, parsed=parsed)
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
            values = [check_type(v, hint, f"sweep.vary.{key}", where) for v in values]
        out.append((key, tuple(values)))
    return tuple(out)


def _recipe(name: str, table: dict[str, Any], where: str) -> RecipeConfig:
    """[recipes.<name>]: the recipe's own parameters, then the keys every recipe has."""
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
    params_table = {k: v for k, v in table.items() if k not in RECIPE_KEYS}
    params = from_table(recipe.params_cls, params_table, section, where, also=RECIPE_KEYS)
    own = {k: table[k] for k in RECIPE_KEYS if k in table and k != "recipe"}
    return from_table(RecipeConfig, own, section, where, sep=": ",
                      parsed={"name": name, "recipe": recipe.name, "params": params})


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a [{key}] table in {where}")
    return value
