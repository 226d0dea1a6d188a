"""The build stage: data -> dense baseline -> recipes -> TFLite variants -> manifest.

``build_pipeline`` is the one function ``edgebench build`` calls. It writes into the run
folder: ``eval/`` (the test set as shards for the bench stage, with the reference model's
outputs), ``baseline-float32.tflite`` (the float32 reference), ``baseline.h5``,
``<recipe>.h5``, ``<recipe>-<kind>.tflite`` and ``manifest.json``.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ai_edge_litert
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgebench.bench import runner
from edgebench.build import facts, sources, strip, training
from edgebench.build._tf import import_tf
from edgebench.build.config import PipelineConfig
from edgebench.build.conversion import convert, convert_saved_model
from edgebench.build.datasets import Dataset, dataset_path, is_image_dataset, load_dataset
from edgebench.build.images import check_image_folder
from edgebench.build.preprocessing import Preprocessing, preprocessing_for
from edgebench.build.recipes import get_recipe, prunable
from edgebench.build.recipes.base import BaselineHistory, RecipeContext
from edgebench.build.training import (
    TrainingData,
    make_objective,
    output_ends_in_softmax,
)
from edgebench.errors import ConfigError, DatasetError, EdgebenchError, ModelFileError
from edgebench.files import zip_bytes
from edgebench.models import BUILTIN_MODELS
from edgebench.records import (
    Artifact,
    DatasetInfo,
    Manifest,
    OpInfo,
    OutputFidelity,
    VariantKind,
    format_snr,
    from_dict,
    worst_fidelity,
)

SPARSITY_TOLERANCE = 0.01  # one percentage point
REPRESENTATIVE_SAMPLES = 300  # int8 calibration samples drawn from the training data (default)
EVAL_DIR = "eval"  # the evaluation shards, in the run folder
REFERENCE_FILE = "baseline-float32.tflite"  # the float32 reference every variant is held to
# A SavedModel's float32 TFLite against the SavedModel itself: good conversions differed by
# 2e-08..5e-07 (up to 3e-08 for MobileNetV2); a broken one gives NaN.
SAVED_MODEL_TOLERANCE = 1e-3
MAGNITUDE_RECIPES = ("prune_after_training", "prune_from_scratch")  # tfmot's prune_low_magnitude
STRIP_CHECK_SAMPLES = 64  # training samples a stripped variant must answer byte-identically
Progress = Callable[[str], None]


def print_progress(line: str) -> None:
    """The default progress sink: one flushed line, so a CI log follows the build live."""
    print(line, flush=True)


def new_manifest(
    run_dir: Path,
    config: PipelineConfig,
    ds: Dataset,
    eval_path: Path,
    baseline: str,
    artifacts: Sequence[Artifact],
    *,
    dataset_info: DatasetInfo | None = None,
    **extra: Any,
) -> Manifest:
    """The manifest of a build or sweep in ``run_dir``: where the data came from, what was made."""
    tf, keras, tfmot = import_tf()
    return Manifest(
        run_id=run_dir.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_path=str(config.path) if config.path else None,
        config_sha256=config.sha256,
        dataset=dataset_info or DatasetInfo(
            name=ds.name,
            source=ds.source,
            n_train=ds.n_train,
            n_test=ds.n_test,
            num_classes=ds.num_classes,
            labelled=ds.labelled,
            preprocess={"x": config.data.preprocess} if isinstance(
                config.data.preprocess, str) else dict(config.data.preprocess),
            metric=config.data.metric if ds.labelled else None,
        ),
        eval_data=eval_path.name,
        baseline=baseline,
        artifacts=tuple(artifacts),
        versions=_versions(tf, keras, tfmot),
        **extra,
    )


def build_pipeline(
    config: PipelineConfig,
    out_dir: Path,
    *,
    model_path: Path | None = None,
    progress: Progress = print_progress,
) -> Path:
    """Build every artifact the config asks for into ``out_dir``; return the manifest's path.

    ``model_path`` (a .keras / .h5 file, tf-keras or Keras 3, or a SavedModel folder)
    overrides the config's model. A user's model is used as the trained baseline as it is:
    it is evaluated, not retrained. A SavedModel is converted to the quantisation variants
    only (tfmot needs Keras layers); the manifest says why each recipe was skipped.
    """
    t_start = time.perf_counter()
    user_model = Path(model_path) if model_path is not None else config.model.path
    # The data and the model file first: a missing or malformed one is reported in a second,
    # before TensorFlow loads, and before anything is written. An image folder is checked now
    # and decoded once the model's input size is known.
    ds: Dataset | None = None
    if is_image_dataset(config.data.dataset, config.base_dir):
        image_folder_check(config)
    else:
        ds = load_dataset(
            config.data.dataset, config.base_dir, config.data.train_limit, config.data.test_limit
        )
    if user_model is not None:
        sources.check_model_path(user_model)
    tf, keras, tfmot = import_tf()
    _check_tensorboard(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = config.train.seed
    keras.utils.set_random_seed(seed)

    source = None
    if user_model is not None:
        source = sources.load_source(user_model, config.model.custom_objects, config.base_dir)
        for note in source.notes:
            progress(f"model: {note}")
    if ds is None:
        size, channels = image_input(source, config)
        ds = load_dataset(
            config.data.dataset, config.base_dir, config.data.train_limit,
            config.data.test_limit, image_size=size, channels=channels,
        )
    progress(describe_data(ds))
    if source is None:
        source = builtin_source(config, ds)
    fit = fit_model_to_data(source, ds, config.data.label_output)
    prep = preprocessing_for(config.data.preprocess, source.input_names, config.base_dir)
    raw_train, raw_test = fit.model_inputs(ds, "train"), fit.model_inputs(ds, "test")
    x_train = prep.prepare(raw_train, fit.shapes, "train")
    x_test = prep.prepare(raw_test, fit.shapes, "test")
    data = unwrap_data(split_arrays(x_train, ds.y_train, config.train.validation_split))
    progress(
        f"model: {source.kind}{f' {source.path}' if source.path else ''}: inputs "
        + ", ".join(f"{t.name} {list(t.shape)} ({prep.modes[t.name]})" for t in source.inputs)
        + "; outputs " + ", ".join(f"{t.name} {list(t.shape)}" for t in source.outputs)
    )

    model = source.model
    objective = None
    if source.prunable:  # what the recipes would refuse is refused before any training
        check_prunable(config, model)
        objective = make_objective(
            model, source.output_names, [t.shape for t in source.outputs], fit.label_output,
            config.train.fine_tune, config.train.output_weights,
        )
    history = None
    if source.kind == "builtin":
        from_logits = not ends_in_softmax(model)
        history = train_baseline(model, data, config.train, from_logits, progress)

    builder = ArtifactBuilder(
        out_dir, out_dir / EVAL_DIR, unwrap(x_test), ds.y_test, data.x_fit, config,
        progress, label_output=fit.label_output, output_names=tuple(source.output_names),
        class_outputs=class_outputs(source, fit.label_output),
    )
    eval_inputs, eval_modes = prep.stored(raw_test, x_test)
    builder.write_eval(eval_inputs, eval_modes)
    if not source.prunable:
        artifacts, skipped = build_saved_model(builder, source, config, x_test)
        manifest = new_manifest(
            out_dir, config, ds, builder.eval_path, "baseline/float32", artifacts,
            dataset_info=dataset_info(ds, source, prep, config),
            **builder.manifest_fields(source), skipped_recipes=skipped,
        )
        return _save_manifest(manifest, out_dir, artifacts, t_start, progress)

    assert objective is not None
    builder.attach_reference(lambda: convert(model, VariantKind.FLOAT32, None))
    # Save the dense baseline before any recipe runs: prune_low_magnitude wraps the layers of
    # the model it gets, and a baseline saved after that would be silently sparse.
    where = {"source": str(source.path) if source.path else f"builtin:{config.model.builtin}"}
    dense = builder.keras("baseline", model, "baseline.h5", where)
    dense_nonzero = dense.nonzero_params
    artifacts = [dense]
    for kind in config.baseline.variants:
        artifacts.append(builder.tflite("baseline", model, kind, where))

    fine_tune = objective.describe()
    if config.recipes:
        progress(f"fine-tune: {fine_tune['kind']} ({'; '.join(fine_tune['losses'])})")
        data = TrainingData(
            data.x_fit, objective.targets(model, data.x_fit, data.y_fit),
            data.x_val, objective.targets(model, data.x_val, data.y_val),
        )
    built: dict[str, Any] = {}
    for rc in config.recipes:
        recipe = get_recipe(rc.recipe)
        ctx = RecipeContext(
            name=rc.name,
            baseline=model,
            data=data,
            batch_size=config.train.batch_size,
            learning_rate=config.train.learning_rate,
            seed=seed,
            from_logits=not output_ends_in_softmax(model, fit.label_output or ""),
            run_dir=out_dir,
            progress=progress,
            history=history,
            upstream=dict(built),
            objective=objective,
        )
        keras.utils.set_random_seed(seed)
        result = recipe.fn(ctx, rc.params)
        built[rc.name] = result.model
        achieved = facts.keras_facts(result.model).layer_sparsity
        verify_sparsity(rc.name, achieved, result.target_sparsity)
        progress(f"{rc.name}: sparsity {describe_sparsity(achieved, result.target_sparsity)}")
        extra = {**result.extra, "fine_tune": fine_tune}
        artifacts.append(builder.keras(rc.name, result.model, f"{rc.name}.h5", extra))
        for kind in rc.variants:
            artifacts.append(
                builder.tflite(
                    rc.name, result.model, kind, extra, result.sparse_export, rc.strip
                )
            )

    if facts.keras_facts(model).nonzero_params != dense_nonzero:
        raise RuntimeError("a recipe modified the dense baseline; recipes must work on a copy")

    manifest = new_manifest(
        out_dir, config, ds, builder.eval_path, dense.name, artifacts,
        dataset_info=dataset_info(ds, source, prep, config), **builder.manifest_fields(source),
    )
    return _save_manifest(manifest, out_dir, artifacts, t_start, progress)


def _save_manifest(
    manifest: Manifest, out_dir: Path, artifacts: Sequence[Artifact], t_start: float,
    progress: Progress,
) -> Path:
    manifest_path = out_dir / "manifest.json"
    manifest.save(manifest_path)
    progress(
        f"build done in {time.perf_counter() - t_start:.1f} s: {len(artifacts)} artifacts, "
        f"manifest {manifest_path}"
    )
    return manifest_path


def build_saved_model(
    builder: ArtifactBuilder, source: sources.ModelSource, config: PipelineConfig,
    x_test: dict[str, np.ndarray],
) -> tuple[list[Artifact], dict[str, str]]:
    """A SavedModel's quantisation variants (every kind the config asks for, from the dense
    model), and why each recipe was skipped."""
    assert source.path is not None and source.signature is not None
    path, key = source.path, source.signature
    where = {"source": str(path), "signature": key}

    def float32() -> bytes:
        flat = convert_saved_model(path, key, VariantKind.FLOAT32, None)
        check_saved_model_conversion(source, flat, x_test)
        return flat

    builder.attach_reference(float32)
    kinds = list(dict.fromkeys([
        VariantKind.FLOAT32, *config.baseline.variants,
        *(k for rc in config.recipes for k in rc.variants),
    ]))
    artifacts = []
    for kind in kinds:
        artifacts.append(builder.tflite_from(
            "baseline", kind, where,
            lambda kind=kind: convert_saved_model(path, key, kind, builder.calibration()),
        ))
    why = (
        "not run: a SavedModel has no Keras layers for tfmot to prune, cluster or fine-tune; "
        "its quantisation variants were built from the dense model (give the .keras file to "
        "prune it)"
    )
    skipped = {rc.name: why for rc in config.recipes}
    for name in skipped:
        builder.progress(f"{name}: skipped, {why}")
    return artifacts, skipped


def check_saved_model_conversion(
    source: sources.ModelSource, flat: bytes, x_test: dict[str, np.ndarray]
) -> None:
    """The float32 TFLite of a SavedModel must reproduce the SavedModel's own outputs on a
    test sample: a silently broken conversion (NaN, uninitialised weights) stops the build."""
    assert source.path is not None and source.signature is not None
    feeds = {k: v[:1] for k, v in x_test.items()}
    want = sources.saved_model_outputs(source.path, source.signature, feeds)
    got = runner.model_outputs(Interpreter(model_content=flat), feeds, 1)
    mapping = runner.match_names(list(want), list(got), "outputs")
    worst = max(float(np.max(np.abs(got[mapping[k]] - v))) for k, v in want.items())
    if not np.isfinite(worst) or worst > SAVED_MODEL_TOLERANCE:
        raise ModelFileError(
            f"{source.path}: its float32 TFLite conversion does not reproduce the SavedModel "
            f"(max |diff| {worst:g} on a test sample); export it with model.export(DIR) or "
            "give the .keras file"
        )


# --------------------------------------------------------------------------- baseline


def train_baseline(
    model: Any, data: TrainingData, train: Any, from_logits: bool, progress: Progress
) -> BaselineHistory:
    """Train the dense baseline as [train] says; keep its initialisation and every epoch.

    The checkpoints let lottery-ticket and rewinding recipes go back to epoch ``k``.
    """
    _, keras, _ = import_tf()
    steps = -(-len(data.x_fit) // train.batch_size)
    rate = training.learning_rate_schedule(
        train.lr_schedule, train.learning_rate, total_steps=train.epochs * steps
    )
    checkpoints: dict[int, tuple[Any, ...]] = {0: tuple(model.get_weights())}

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            checkpoints[epoch + 1] = tuple(self.model.get_weights())

    training.compile_model(model, rate, from_logits)
    training.fit_model(
        model,
        data,
        epochs=train.epochs,
        batch_size=train.batch_size,
        label="baseline",
        progress=progress,
        callbacks=[Checkpoint()],
    )
    return BaselineHistory(
        checkpoints=checkpoints,
        epochs=train.epochs,
        steps_per_epoch=steps,
        base_learning_rate=train.learning_rate,
        lr_schedule=train.lr_schedule,
    )


# --------------------------------------------------------------------------- checks


def describe_sparsity(achieved: Mapping[str, float], targets: Mapping[str, float]) -> str:
    """Each pruned layer's sparsity, or for many layers their range."""
    if len(targets) <= 8:
        return ", ".join(f"{k} {achieved[k]:.1%}" for k in targets)
    values = [achieved[k] for k in targets]
    return f"{min(values):.1%} to {max(values):.1%} over {len(values)} layers"


def verify_sparsity(
    recipe: str,
    achieved: Mapping[str, float],
    targets: Mapping[str, float],
    tolerance: float = SPARSITY_TOLERANCE,
) -> None:
    """Fail when any pruned layer's kernel sparsity is more than ``tolerance`` off its target."""
    misses = []
    for layer, target in targets.items():
        got = achieved.get(layer)
        if got is None:
            misses.append(f"layer {layer} has no kernel to measure (target {target:.1%})")
        elif abs(got - target) > tolerance:
            misses.append(f"layer {layer} reached {got:.1%} sparsity, target {target:.1%}")
    if misses:
        raise EdgebenchError(
            f"recipes.{recipe}: "
            + "; ".join(misses)
            + f" (more than {tolerance * 100:g} point{'s' if tolerance != 0.01 else ''} off); "
            "train longer or set end_step within this recipe's training (-1 = its last step)"
        )


def check_prunable(config: PipelineConfig, model: Any) -> None:
    """Before any conversion or fine-tune: every layer a magnitude recipe would prune is one
    tfmot can prune (else one line naming the layer, its type and ``layers = [...]``)."""
    for rc in config.recipes:
        if rc.recipe in MAGNITUDE_RECIPES:
            prunable.layers_to_prune(model, rc.params.layers, rc.name)


def _check_tensorboard(config: PipelineConfig) -> None:
    """Fail before any training when a recipe asks for TensorBoard summaries without it."""
    wanting = [r.name for r in config.recipes if getattr(r.params, "tensorboard", False)]
    if wanting and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            f"recipes.{wanting[0]}.tensorboard = true needs TensorBoard, which is not "
            "installed: pip install tensorboard, or set tensorboard = false"
        )


def initial_model(
    config: PipelineConfig, ds: Dataset, user_model: Path | None = None
) -> tuple[Any, str]:
    """The baseline before training, and where it came from (a path or ``builtin:<name>``).

    ``user_model`` (a .keras / .h5 file, already trained) is loaded and checked against the
    dataset; without it the config's builtin model is built fresh, to be trained. (The sweep's
    door: single-input, labelled data; the build uses :mod:`build.sources` directly.)
    """
    if user_model is not None:
        source = sources.load_source(user_model, config.model.custom_objects, config.base_dir)
        if not source.prunable:
            raise ModelFileError(
                f"{user_model} is a SavedModel, which has no Keras layers to prune; the sweep "
                "needs a .keras or .h5 model"
            )
        fit_model_to_data(source, ds, config.data.label_output)
        return source.model, str(user_model)
    name = config.model.builtin
    source = builtin_source(config, ds)
    return source.model, f"builtin:{name}"


def builtin_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, **options: Any
) -> Any:
    """A fresh (untrained) builtin model from :mod:`edgebench.models`, built with tf-keras."""
    _, keras, _ = import_tf()
    try:
        return BUILTIN_MODELS[name](keras, input_shape, num_classes, **options)
    except TypeError as exc:  # an option the model function does not take
        raise ConfigError(f"[model] options for {name}: {exc}") from None
    except ValueError as exc:  # e.g. an input too small for the architecture
        raise DatasetError(f"builtin model {name}: {exc}") from None


def builtin_source(config: PipelineConfig, ds: Dataset) -> sources.ModelSource:
    """The config's builtin model, fresh, shaped for the data. It is trained here, so the data
    needs labels."""
    name = config.model.builtin
    assert name is not None
    if not ds.labelled or ds.num_classes is None:
        raise DatasetError(
            f"the builtin model {name} is trained from scratch, which needs labels, and "
            f"{ds.source} has none; add y_train and y_test, or give your trained model with "
            "--model (then the fine-tune distils from its outputs)"
        )
    model = builtin_model(name, ds.sample_shape, ds.num_classes, **config.model.options)
    return sources.keras_source("builtin", None, model)


def load_keras_model(path: Path) -> Any:
    """Load a user's tf-keras .keras / .h5 model (uncompiled); a broken file is an error."""
    return sources.load_keras_model(path)


def image_folder_check(config: PipelineConfig) -> None:
    """An image folder's structure, checked before TensorFlow loads (nothing decoded)."""
    path = dataset_path(config.data.dataset, config.base_dir)
    assert path is not None
    check_image_folder(path)


def image_input(
    source: sources.ModelSource | None, config: PipelineConfig
) -> tuple[tuple[int, int], int]:
    """The size and channels an image folder is decoded at: the model's input, or, for a
    builtin model, ``[data] image_size`` and ``color``."""
    if source is None:
        if not config.data.image_size:
            raise ConfigError(
                "[data] dataset is an image folder, and a builtin model takes its input size "
                "from the data: set [data] image_size = [height, width] (and color = \"rgb\" or "
                "\"grey\")"
            )
        h, w = config.data.image_size
        return (h, w), config.data.channels
    if len(source.inputs) != 1 or len(source.inputs[0].shape) != 3:
        raise DatasetError(
            f"an image folder needs a model with one (height, width, channels) input; "
            f"{source.path} takes {', '.join(f'{t.name} {list(t.shape)}' for t in source.inputs)}"
        )
    h, w, c = source.inputs[0].shape
    if h is None or w is None:
        if not config.data.image_size:
            raise ConfigError(
                f"{source.path} takes images of any size; set [data] image_size = "
                "[height, width] to decode the image folder at"
            )
        h, w = config.data.image_size
    if c not in (1, 3):
        raise DatasetError(
            f"{source.path} takes {c} channels; an image folder decodes to RGB (3) or grey (1)"
        )
    return (int(h), int(w)), int(c)


def describe_data(ds: Dataset) -> str:
    """One progress line about the data."""
    shapes = (
        ", ".join(f"{k} {v.shape[1:]}" for k, v in ds.x_train.items())
        if isinstance(ds.x_train, dict) else f"samples {ds.x_train.shape[1:]}"
    )
    labels = f"{ds.num_classes} classes" if ds.labelled else "no labels"
    return (
        f"data: {ds.name} from {ds.source}: {ds.n_train} train, {ds.n_test} test, {labels}, "
        f"{shapes}"
    )


@dataclass(frozen=True)
class DataFit:
    """How the data meets the model: which array feeds which input, each input's sample shape,
    and the output the labels are for."""

    input_map: dict[str, str]  # dataset key ("x" for one unnamed input) -> model input name
    shapes: dict[str, tuple[int, ...]]  # model input name -> sample shape
    label_output: str | None

    def model_inputs(self, ds: Dataset, split: str) -> dict[str, np.ndarray]:
        """One split's raw arrays keyed by model input name."""
        return {self.input_map[k]: v for k, v in ds.inputs(split).items()}


def fit_model_to_data(
    source: sources.ModelSource, ds: Dataset, label_output: str | None = None
) -> DataFit:
    """Check that the data fits the model: one array per input (by name for several), each
    sample of the input's size, and labels for a class-vector output with one score a class."""
    where = source.path or "the model"
    names = source.input_names
    keys = list(ds.inputs("train"))
    if keys == ["x"] and len(names) == 1:
        input_map = {"x": names[0]}
    elif keys == ["x"]:
        raise DatasetError(
            f"{where} has inputs {', '.join(names)}; give one array per input in the .npz: "
            + ", ".join(f"x_train_{n}, x_test_{n}" for n in names)
        )
    elif sorted(keys) == sorted(names):
        input_map = {k: k for k in keys}
    else:
        raise DatasetError(
            f"{where} has inputs {names} but {ds.source} has {sorted(keys)}; name each array "
            "after a model input (x_train_<input>, x_test_<input>)"
        )
    shapes = {}
    for key, name in input_map.items():
        spec = next(t for t in source.inputs if t.name == name)
        sample = tuple(ds.inputs("train")[key].shape[1:])
        dims = spec.shape
        if None in dims:
            if len(dims) != len(sample):
                raise DatasetError(
                    f"{where}'s input {name!r} takes {list(dims)} but the data's samples are "
                    f"{list(sample)}; give samples of that rank"
                )
            dims = tuple(s if d is None else d for d, s in zip(dims, sample, strict=True))
        if int(np.prod(dims)) != int(np.prod(sample)):
            raise DatasetError(
                f"the model {where} takes input {tuple(dims)} but the dataset {ds.name} has "
                f"samples {sample}; use a model whose input holds {int(np.prod(sample))} values "
                f"per sample (e.g. {sample}) or a dataset that fits the model"
            )
        shapes[name] = tuple(int(d) for d in dims)
    return DataFit(input_map, shapes, _label_output(source, ds, label_output))


def _label_output(
    source: sources.ModelSource, ds: Dataset, wanted: str | None
) -> str | None:
    where = source.path or "the model"
    outputs = {t.name: t.shape for t in source.outputs}
    if wanted is not None and wanted not in outputs:
        raise ConfigError(
            f"[data] label_output = {wanted!r} is not an output of {where}; its outputs are "
            f"{', '.join(outputs)}"
        )
    if not ds.labelled:
        return None
    classes = (ds.num_classes,)
    if wanted is None:
        if len(outputs) == 1:
            wanted = next(iter(outputs))
        else:
            fits = [n for n, shape in outputs.items() if tuple(shape) == classes]
            if not fits:
                raise DatasetError(
                    f"{where} has outputs {', '.join(f'{n} {list(s)}' for n, s in outputs.items())}"
                    f" and none has one score for each of the data's {ds.num_classes} classes; "
                    "set [data] label_output, or leave y_train and y_test out"
                )
            wanted = fits[0]
    if tuple(outputs[wanted]) != classes:
        raise DatasetError(
            f"the model {where} outputs {list(outputs[wanted])} ({wanted}) but the dataset "
            f"{ds.name} has {ds.num_classes} classes; the labelled output needs one score a "
            f"class, i.e. size {ds.num_classes}"
        )
    return wanted


def class_outputs(
    source: sources.ModelSource, label_output: str | None
) -> tuple[str, ...] | None:
    """The outputs that are class vectors, for which top-1 agreement means something: the
    labelled one, every (C,) output of a softmax layer, and without labels the one vector
    output of a single-output model (a classifier's logits). A box or embedding output of a
    multi-output model is not one. None (decided by shape) for a SavedModel, whose layers are
    unknown."""
    if source.model is None:
        return None
    found = []
    for t in source.outputs:
        vector = len(t.shape) == 1 and (t.shape[0] or 0) >= 2
        softmax = output_ends_in_softmax(source.model, t.name)
        only = label_output is None and len(source.outputs) == 1
        if t.name == label_output or (vector and (softmax or only)):
            found.append(t.name)
    return tuple(found)


def check_model_fits(model: Any, ds: Dataset, where: Path | str) -> None:
    """The tf-keras ``model`` must take the data's samples and output one score a class."""
    fit_model_to_data(sources.keras_source("tf_keras", Path(str(where)), model), ds)


def dataset_info(
    ds: Dataset, source: sources.ModelSource, prep: Preprocessing, config: PipelineConfig
) -> DatasetInfo:
    return DatasetInfo(
        name=ds.name,
        source=ds.source,
        n_train=ds.n_train,
        n_test=ds.n_test,
        num_classes=ds.num_classes,
        labelled=ds.labelled,
        preprocess=prep.describe(),
        metric=config.data.metric if ds.labelled else None,
        inputs=tuple(source.input_names),
        outputs=tuple(source.output_names),
    )


# --------------------------------------------------------------------------- data


def write_dataset_eval(path: Path, ds: Dataset, config: PipelineConfig) -> None:
    """Eval shards of a single-input dataset with builtin preprocessing (the sweep's): raw
    test samples, labels, no reference outputs yet (:meth:`ArtifactBuilder.attach_reference`)."""
    mode = config.data.preprocess
    if not isinstance(mode, str) or mode not in runner.PREPROCESS_MODES:
        raise ConfigError(
            f"[data] preprocess = {mode!r}: the sweep takes one builtin mode "
            f"({', '.join(runner.PREPROCESS_MODES)})"
        )
    runner.write_eval_data(
        path, {"x": ds.inputs("test")["x"]}, {"x": mode}, labels=ds.y_test,
        metric=config.data.metric,
    )


def split_training_data(
    ds: Dataset, input_shape: tuple[int, ...], validation_split: float, mode: str = "unit"
) -> TrainingData:
    """Preprocess, shape for the model, and hold out the last part as Keras would."""
    x = scale_inputs(ds.x_train, input_shape, mode)
    return split_arrays(x, ds.y_train, validation_split)


def split_arrays(x: Any, y: np.ndarray | None, validation_split: float) -> TrainingData:
    """Hold out the last ``validation_split`` of the samples (one array or a dict) as Keras
    would; labels may be None."""
    n = training.n_samples(x)
    split_at = int(np.ceil(n * (1.0 - validation_split)))
    fit, val = slice(0, split_at), slice(split_at, n)
    return TrainingData(
        training.take(x, fit), None if y is None else y[fit],
        training.take(x, val), None if y is None else y[val],
    )


def scale_inputs(x: np.ndarray, input_shape: tuple[int, ...], mode: str = "unit") -> np.ndarray:
    """Raw samples as the model takes them: float32 preprocessed by ``mode``, shaped
    ``input_shape`` (the runner's own function, so the device computes the same floats)."""
    return runner.preprocess(x, mode).reshape((len(x), *input_shape))


def unwrap(x: dict[str, np.ndarray]) -> Any:
    """Model inputs as Keras takes them: the array of a single-input model, else the dict."""
    return next(iter(x.values())) if len(x) == 1 else x


def unwrap_data(data: TrainingData) -> TrainingData:
    return TrainingData(unwrap(data.x_fit), data.y_fit, unwrap(data.x_val), data.y_val)


def model_input_shape(model: Any) -> tuple[int, ...]:
    """The shape of one input sample of a Keras model (without the batch dimension)."""
    return tuple(int(d) for d in model.input_shape[1:])


def calibration_samples(
    pool: Any, seed: int, n: int = REPRESENTATIVE_SAMPLES
) -> Any:
    """The int8 converter's representative samples: a seeded draw of ``n`` from the training
    inputs ``pool`` (one array, or a dict by input name: the same rows of each), in order."""
    rng = np.random.default_rng(seed)
    total = training.n_samples(pool)
    count = min(n, total)
    rows = np.sort(rng.choice(total, size=count, replace=False))
    return training.take(pool, rows)


def ends_in_softmax(model: Any) -> bool:
    """Whether the model outputs probabilities; if not, its loss takes ``from_logits``."""
    last = model.layers[-1]
    return type(last).__name__ == "Softmax" or last.get_config().get("activation") == "softmax"


# --------------------------------------------------------------------------- artifacts


@dataclass
class ArtifactBuilder:
    """Saves, converts, measures and describes artifacts relative to the dense baseline.

    The first artifact recorded is the dense baseline (its Keras file, or for a SavedModel its
    float32 TFLite): every compression ratio is measured against its zipped size. The eval
    shards (``eval_path``) hold the test samples and, once :meth:`attach_reference` ran, the
    float32 reference model's outputs that every TFLite variant's fidelity is measured
    against.
    """

    out_dir: Path
    eval_path: Path
    x_test: Any
    y_test: np.ndarray | None
    x_calibration_pool: Any
    config: PipelineConfig
    progress: Progress
    dense_zip: int | None = None
    label_output: str | None = None
    output_names: tuple[str, ...] = ()
    class_outputs: tuple[str, ...] | None = None  # for top-1 agreement; None: by shape
    reference_path: Path | None = None
    reference_variant: str | None = None
    _eval: tuple[dict[str, np.ndarray], dict[str, str]] | None = None

    # ------------------------------------------------------------------ eval data

    def write_eval(self, inputs: dict[str, np.ndarray], modes: dict[str, str]) -> None:
        """Write the eval shards: what each input's raw test samples are, and their labels."""
        self._eval = (inputs, modes)
        self._write_shards(None)

    def attach_reference(self, make_float32: Callable[[], bytes]) -> Path:
        """Convert the dense model to float32 TFLite (the reference), run it on the test
        inputs, and add its outputs to the eval shards. Returns the reference's path."""
        t0 = time.perf_counter()
        path = self.out_dir / REFERENCE_FILE
        try:
            path.write_bytes(make_float32())
        except EdgebenchError:
            raise
        except Exception as exc:
            raise self._converter_error("baseline", VariantKind.FLOAT32, exc) from None
        self.reference_path = path
        interp = Interpreter(model_path=str(path), num_threads=os.cpu_count() or 1)
        feeds = self.x_test if isinstance(self.x_test, dict) else {"x": self.x_test}
        outputs = runner.model_outputs(interp, feeds, self.config.bench.eval_batch)
        self._write_shards(outputs)
        self.progress(
            f"reference: {path.name} (float32), outputs "
            + ", ".join(f"{k} {list(v.shape[1:])}" for k, v in outputs.items())
            + f" on {training.n_samples(self.x_test)} test samples "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        return path

    def _write_shards(self, reference: dict[str, np.ndarray] | None) -> None:
        if self._eval is None:
            if not self.eval_path.exists():  # the sweep writes its shards itself
                raise RuntimeError("write_eval must run before attach_reference")
            inputs, modes, labels = self._read_shards()
        else:
            (inputs, modes), labels = self._eval, self.y_test
        label_output = self.label_output
        if reference is not None and label_output is None and labels is not None:
            label_output = next(iter(reference))
        runner.write_eval_data(
            self.eval_path, inputs, modes, labels=labels, reference=reference,
            label_output=label_output, metric=self.config.data.metric,
            reference_name=REFERENCE_FILE if reference is not None else None,
            class_outputs=self.class_outputs,
        )

    def _read_shards(self) -> tuple[dict[str, np.ndarray], dict[str, str], np.ndarray | None]:
        data = runner.EvalData(self.eval_path)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in data.inputs}
        labels: list[np.ndarray] = []
        for inputs, y, _ in data.chunks():
            for k, v in inputs.items():
                parts[k].append(v)
            if y is not None:
                labels.append(y)
        return (
            {k: np.concatenate(v) for k, v in parts.items()}, dict(data.preprocess),
            np.concatenate(labels) if labels else None,
        )

    def manifest_fields(self, source: sources.ModelSource | None = None) -> dict[str, Any]:
        """What the manifest says about the reference and the model's origin."""
        out: dict[str, Any] = {
            "reference": self.reference_path.name if self.reference_path else None,
            "reference_variant": self.reference_variant,
        }
        if source is not None:
            out["model_source"] = source.describe()
        return out

    # ------------------------------------------------------------------ artifacts

    def keras(self, recipe: str, model: Any, filename: str, extra: dict[str, Any]) -> Artifact:
        """Save ``model`` as ``filename`` in the run folder and record it with its accuracy."""
        t0 = time.perf_counter()
        path = self.out_dir / filename
        save_h5(model, path)
        zipped = zip_bytes(path)
        if self.dense_zip is None:
            self.dense_zip = zipped
        wf = facts.keras_facts(model)
        accuracy = None
        if self.y_test is not None:
            names = list(self.output_names) or list(model.output_names)
            index = names.index(self.label_output) if self.label_output in names else 0
            accuracy = training.keras_accuracy(
                model, self.x_test, self.y_test, output=index, k=self.config.data.top_k
            )
        return self._record(
            recipe,
            VariantKind.KERAS,
            path,
            zipped,
            wf,
            accuracy,
            (),
            "float32",
            "float32",
            {**extra, "eval_n": training.n_samples(self.x_test)},
            t0,
        )

    def tflite(
        self,
        recipe: str,
        model: Any,
        kind: VariantKind,
        extra: dict[str, Any],
        sparse: bool = False,
        strip: str = "none",
    ) -> Artifact:
        """Convert ``model`` to the TFLite variant ``kind``, save it and record it."""
        return self.tflite_from(
            recipe, kind, extra, lambda: convert(model, kind, self.calibration(), sparse=sparse),
            strip,
        )

    def tflite_from(
        self, recipe: str, kind: VariantKind, extra: dict[str, Any],
        make: Callable[[], bytes], strip: str = "none",
    ) -> Artifact:
        """Record the TFLite variant ``kind`` that ``make`` converts (the dense baseline's
        float32 is the reference, already converted).

        ``strip`` ("all" or "keep-signatures") strips the file (:mod:`edgebench.build.strip`)
        after checking that the stripped model answers byte-identically; ``extra["strip"]``
        records what went.
        """
        t0 = time.perf_counter()
        path = self.out_dir / f"{recipe}-{kind.value}.tflite"
        if recipe == "baseline" and kind is VariantKind.FLOAT32 and self.reference_path:
            self.reference_variant = f"{recipe}/{kind.value}"
            return self.existing_tflite(recipe, kind, self.reference_path, extra, t0)
        try:
            flatbuffer = make()
        except EdgebenchError:
            raise
        except Exception as exc:
            raise self._converter_error(recipe, kind, exc) from None
        path.write_bytes(flatbuffer)
        if strip != "none":
            extra = {**extra, "strip": self._strip(f"{recipe}/{kind.value}", path, strip)}
        return self.existing_tflite(recipe, kind, path, extra, t0)

    @staticmethod
    def _converter_error(recipe: str, kind: VariantKind, exc: Exception) -> EdgebenchError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return EdgebenchError(
            f"{recipe}: the TFLite converter failed on variant {kind.value} ({first[:200]}); "
            f"drop {kind.value!r} from that section's variants"
        )

    def _strip(self, name: str, path: Path, mode: str) -> dict[str, Any]:
        """Strip the file at ``path`` in place; return what went and what it weighed before."""
        flatbuffer = path.read_bytes()
        unstripped_zip = zip_bytes(path)
        out, removed = strip.strip_flatbuffer(flatbuffer, keep_signatures=mode == "keep-signatures")
        calibration = self.calibration()
        if not isinstance(calibration, np.ndarray):
            raise ConfigError(
                f"{name}: strip checks a stripped file on one input, and this model has "
                f"{len(calibration)}; set strip = false for it"
            )
        check = calibration[:STRIP_CHECK_SAMPLES]
        if not strip.identical_outputs(flatbuffer, out, check):
            raise EdgebenchError(
                f"{name}: the stripped model's outputs differ from the original's; set "
                "strip = false in that section and report this model"
            )
        path.write_bytes(out)
        self.progress(f"{name}: stripped {strip.summary(removed)}")
        return {
            "mode": mode,
            "unstripped_file_bytes": len(flatbuffer),
            "unstripped_zip_bytes": unstripped_zip,
            "removed": removed,
            "identical_outputs_on": len(check),
        }

    def existing_tflite(
        self,
        recipe: str,
        kind: VariantKind,
        path: Path,
        extra: dict[str, Any],
        t0: float | None = None,
    ) -> Artifact:
        """Measure and describe a .tflite file already in the run folder (the sweep's)."""
        t0 = time.perf_counter() if t0 is None else t0
        interp = Interpreter(model_path=str(path), num_threads=os.cpu_count() or 1)
        interp.allocate_tensors()
        in_dtype = np.dtype(interp.get_input_details()[0]["dtype"]).name
        out_dtype = np.dtype(interp.get_output_details()[0]["dtype"]).name
        try:
            ev = runner.evaluate(interp, str(self.eval_path), self.config.bench.eval_batch, 0)
        except runner.ModelError as exc:
            raise EdgebenchError(f"{recipe}/{kind.value}: {exc}") from None
        ops = tuple(OpInfo(o["name"], int(o["version"])) for o in runner.model_ops(str(path)) or ())
        fidelity = tuple(from_dict(OutputFidelity, f) for f in ev.get("fidelity") or ())
        return self._record(
            recipe,
            kind,
            path,
            zip_bytes(path),
            facts.tflite_facts(path),
            ev["accuracy"],
            ops,
            in_dtype,
            out_dtype,
            {**extra, "eval_method": ev["eval_method"], "eval_n": ev["eval_n"]},
            t0,
            fidelity,
        )

    def calibration(self) -> Any:
        """The int8 representative samples (``[data] calibration_samples`` of them)."""
        return calibration_samples(
            self.x_calibration_pool, self.config.train.seed, self.config.data.calibration_samples
        )

    _calibration = calibration  # the sweep's name for it

    def _record(
        self,
        recipe: str,
        kind: VariantKind,
        path: Path,
        zipped: int,
        wf: facts.WeightFacts,
        accuracy: float | None,
        ops: tuple[OpInfo, ...],
        in_dtype: str,
        out_dtype: str,
        extra: dict[str, Any],
        t0: float,
        fidelity: tuple[OutputFidelity, ...] = (),
    ) -> Artifact:
        if self.dense_zip is None:
            self.dense_zip = zipped  # a SavedModel: its float32 TFLite is the dense baseline
        art = Artifact(
            name=f"{recipe}/{kind.value}",
            recipe=recipe,
            kind=kind.value,
            path=path.name,
            file_bytes=path.stat().st_size,
            zip_bytes=zipped,
            params=wf.params,
            nonzero_params=wf.nonzero_params,
            compression_ratio=round(self.dense_zip / zipped, 3),
            host_accuracy=None if accuracy is None else round(float(accuracy), 5),
            layer_sparsity=wf.layer_sparsity,
            ops=ops,
            input_dtype=in_dtype,
            output_dtype=out_dtype,
            extra=extra,
            fidelity=fidelity,
        )
        acc = "n/a" if art.host_accuracy is None else f"{art.host_accuracy:.4f}"
        worst = worst_fidelity(fidelity)
        fid = "" if worst is None else f", SNR {format_snr(worst.snr_db)} dB"
        self.progress(
            f"{art.name}: {art.file_bytes:,} bytes, {art.zip_bytes:,} zipped "
            f"({art.compression_ratio:.2f}x), {art.nonzero_params:,}/{art.params:,} non-zero, "
            f"accuracy {acc}{fid} ({time.perf_counter() - t0:.1f} s)"
        )
        return art


def save_h5(model: Any, path: Path) -> None:
    """Save a tf_keras model as HDF5 without its optimizer."""
    with warnings.catch_warnings():  # "HDF5 is legacy": the guide measures .h5 on purpose
        warnings.simplefilter("ignore", UserWarning)
        model.save(path, include_optimizer=False)


def _versions(tf: Any, keras: Any, tfmot: Any) -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "tfmot": getattr(tfmot, "__version__", "unknown"),
        "numpy": np.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", "unknown"),
        "python": platform.python_version(),
    }
