"""The build stage: data -> dense baseline -> recipes -> TFLite variants -> manifest.

``build_pipeline`` is the one function ``edgebench build`` calls. It writes into the run
folder: ``eval/`` (the test set as shards for the bench stage, with the reference model's
outputs), ``baseline-float32.tflite`` (the float32 reference), ``baseline.h5``,
``<recipe>.h5``, ``<recipe>-<kind>.tflite`` and ``manifest.json``.

This module orders the steps; each has its own: how the data meets the model
(:mod:`.datafit`), the arrays drawn from it (:mod:`.samples`), the baseline
(:mod:`.baseline`), the recipes (:mod:`.recipe_runs`), the artifacts (:mod:`.artifacts`) and
the manifest (:mod:`.manifest`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgebench.bench.device.runner.tensors import match_names
from edgebench.bench.device.shards import model_outputs
from edgebench.build import sources
from edgebench.build._tf import import_tf
from edgebench.build.artifacts import EVAL_DIR, ArtifactBuilder
from edgebench.build.baseline import builtin_source, ends_in_softmax, train_baseline
from edgebench.build.config import PipelineConfig
from edgebench.build.conversion import convert, convert_saved_model
from edgebench.build.datafit import (
    class_outputs,
    describe_data,
    fit_model_to_data,
    image_folder_check,
    image_input,
)
from edgebench.build.datasets import Dataset, is_image_dataset, load_dataset
from edgebench.build.manifest import dataset_info, new_manifest, save_manifest
from edgebench.build.preprocessing import preprocessing_for, unit_warnings
from edgebench.build.progress import Progress, print_progress
from edgebench.build.recipe_runs import check_prunable, check_tensorboard, run_recipes
from edgebench.build.samples import split_arrays, unwrap, unwrap_data
from edgebench.build.training import make_objective
from edgebench.errors import ModelFileError
from edgebench.records import Artifact, VariantKind

# A SavedModel's float32 TFLite against the SavedModel itself: good conversions differed by
# 2e-08..5e-07 (up to 3e-08 for MobileNetV2); a broken one gives NaN.
SAVED_MODEL_TOLERANCE = 1e-3


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
    _, keras, _ = import_tf()
    check_tensorboard(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.train.seed)

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
    for warning in unit_warnings(prep, raw_train):
        progress(warning)
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
            model,
            output_names=source.output_names,
            output_shapes=[t.shape for t in source.outputs],
            label_output=fit.label_output,
            fine_tune=config.train.fine_tune,
            weights=config.train.output_weights,
        )
    history = None
    if source.kind == "builtin":
        history = train_baseline(
            model, data, config.train, from_logits=not ends_in_softmax(model), progress=progress
        )

    builder = ArtifactBuilder(
        out_dir=out_dir,
        eval_path=out_dir / EVAL_DIR,
        x_test=unwrap(x_test),
        y_test=ds.y_test,
        x_calibration_pool=data.x_fit,
        config=config,
        progress=progress,
        label_output=fit.label_output,
        output_names=tuple(source.output_names),
        class_outputs=class_outputs(source, fit.label_output),
    )
    eval_inputs, eval_modes = prep.stored(raw_test, x_test)
    builder.write_eval(eval_inputs, eval_modes)
    if not source.prunable:
        artifacts, skipped = build_saved_model(builder, source, config, x_test)
        manifest = new_manifest(
            out_dir, config, ds, eval_path=builder.eval_path, baseline="baseline/float32",
            artifacts=artifacts, dataset=dataset_info(ds, config, source, prep),
            **builder.manifest_fields(source), skipped_recipes=skipped,
        )
        return save_manifest(manifest, out_dir, t_start, progress)

    assert objective is not None
    builder.attach_reference(lambda: convert(model, VariantKind.FLOAT32, None))
    # Save the dense baseline before any recipe runs: prune_low_magnitude wraps the layers of
    # the model it gets, and a baseline saved after that would be silently sparse.
    where = {"source": str(source.path) if source.path else f"builtin:{config.model.builtin}"}
    dense = builder.keras("baseline", model, "baseline.h5", where)
    artifacts = [dense]
    for kind in config.baseline.variants:
        artifacts.append(builder.tflite("baseline", model, kind, where))
    artifacts += run_recipes(
        config, model, data, objective=objective, history=history,
        label_output=fit.label_output, builder=builder, progress=progress,
    )
    manifest = new_manifest(
        out_dir, config, ds, eval_path=builder.eval_path, baseline=dense.name,
        artifacts=artifacts, dataset=dataset_info(ds, config, source, prep),
        **builder.manifest_fields(source),
    )
    return save_manifest(manifest, out_dir, t_start, progress)


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
    def variant(kind: VariantKind) -> Callable[[], bytes]:
        return lambda: convert_saved_model(path, key, kind, builder.calibration())

    artifacts = [builder.tflite_from("baseline", kind, where, variant(kind)) for kind in kinds]
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
    got = model_outputs(Interpreter(model_content=flat), feeds, 1)
    mapping = match_names(list(want), list(got), "outputs")
    worst = max(float(np.max(np.abs(got[mapping[k]] - v))) for k, v in want.items())
    if not np.isfinite(worst) or worst > SAVED_MODEL_TOLERANCE:
        raise ModelFileError(
            f"{source.path}: its float32 TFLite conversion does not reproduce the SavedModel "
            f"(max |diff| {worst:g} on a test sample); export it with model.export(DIR) or "
            "give the .keras file"
        )
