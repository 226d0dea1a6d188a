"""The build stage: data -> dense baseline -> recipes -> TFLite variants -> manifest.

``build_pipeline`` is the one function ``edgebench build`` calls. It writes into the run
folder: ``eval.npz`` (the test set for the bench stage), ``baseline.h5``, ``<recipe>.h5``,
``<recipe>-<kind>.tflite`` and ``manifest.json``.
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
from edgebench.build import facts, strip, training
from edgebench.build._tf import import_tf
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset, load_dataset
from edgebench.build.recipes import get_recipe
from edgebench.build.recipes.base import BaselineHistory, RecipeContext
from edgebench.build.training import TrainingData
from edgebench.errors import ConfigError, DatasetError, EdgebenchError, ModelFileError
from edgebench.files import atomic_path, zip_bytes
from edgebench.models import BUILTIN_MODELS
from edgebench.records import Artifact, DatasetInfo, Manifest, OpInfo, VariantKind

SPARSITY_TOLERANCE = 0.01  # one percentage point
REPRESENTATIVE_SAMPLES = 300  # int8 calibration samples drawn from the training data
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
    **extra: Any,
) -> Manifest:
    """The manifest of a build or sweep in ``run_dir``: where the data came from, what was made."""
    tf, keras, tfmot = import_tf()
    return Manifest(
        run_id=run_dir.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_path=str(config.path) if config.path else None,
        config_sha256=config.sha256,
        dataset=DatasetInfo(
            name=ds.name,
            source=ds.source,
            n_train=int(len(ds.x_train)),
            n_test=int(len(ds.x_test)),
            num_classes=ds.num_classes,
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

    ``model_path`` (a .keras / .h5 file) overrides the config's model. A user's model is used
    as the trained baseline as it is: it is evaluated, not retrained.
    """
    t_start = time.perf_counter()
    # The data first: a missing dataset is reported in a second, before TensorFlow loads,
    # and before anything is written.
    ds = load_dataset(
        config.data.dataset, config.base_dir, config.data.train_limit, config.data.test_limit
    )
    tf, keras, tfmot = import_tf()
    _check_tensorboard(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = config.train.seed
    keras.utils.set_random_seed(seed)

    progress(
        f"data: {ds.name} from {ds.source}: {len(ds.x_train)} train, {len(ds.x_test)} test, "
        f"{ds.num_classes} classes, samples {ds.sample_shape}"
    )
    eval_path = out_dir / "eval.npz"
    write_eval_npz(eval_path, ds)

    user_model = Path(model_path) if model_path is not None else config.model.path
    baseline, source = initial_model(config, ds, user_model)
    from_logits = not ends_in_softmax(baseline)
    input_shape = model_input_shape(baseline)
    data = split_training_data(ds, input_shape, config.train.validation_split)
    x_test = scale_inputs(ds.x_test, input_shape)

    history = None
    if user_model is None:
        history = train_baseline(baseline, data, config.train, from_logits, progress)

    builder = ArtifactBuilder(out_dir, eval_path, x_test, ds.y_test, data.x_fit, config, progress)
    # Save the dense baseline before any recipe runs: prune_low_magnitude wraps the layers of
    # the model it gets, and a baseline saved after that would be silently sparse.
    dense = builder.keras("baseline", baseline, "baseline.h5", {"source": source})
    dense_nonzero = dense.nonzero_params
    artifacts = [dense]
    for kind in config.baseline.variants:
        artifacts.append(builder.tflite("baseline", baseline, kind, {"source": source}))

    built: dict[str, Any] = {}
    for rc in config.recipes:
        recipe = get_recipe(rc.recipe)
        ctx = RecipeContext(
            name=rc.name,
            baseline=baseline,
            data=data,
            batch_size=config.train.batch_size,
            learning_rate=config.train.learning_rate,
            seed=seed,
            from_logits=from_logits,
            run_dir=out_dir,
            progress=progress,
            history=history,
            upstream=dict(built),
        )
        keras.utils.set_random_seed(seed)
        result = recipe.fn(ctx, rc.params)
        built[rc.name] = result.model
        achieved = facts.keras_facts(result.model).layer_sparsity
        verify_sparsity(rc.name, achieved, result.target_sparsity)
        progress(
            f"{rc.name}: sparsity "
            + ", ".join(f"{k} {achieved[k]:.1%}" for k in result.target_sparsity)
        )
        artifacts.append(builder.keras(rc.name, result.model, f"{rc.name}.h5", result.extra))
        for kind in rc.variants:
            artifacts.append(
                builder.tflite(
                    rc.name, result.model, kind, result.extra, result.sparse_export, rc.strip
                )
            )

    if facts.keras_facts(baseline).nonzero_params != dense_nonzero:
        raise RuntimeError("a recipe modified the dense baseline; recipes must work on a copy")

    manifest = new_manifest(out_dir, config, ds, eval_path, dense.name, artifacts)
    manifest_path = out_dir / "manifest.json"
    manifest.save(manifest_path)
    progress(
        f"build done in {time.perf_counter() - t_start:.1f} s: {len(artifacts)} artifacts, "
        f"manifest {manifest_path}"
    )
    return manifest_path


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
    dataset; without it the config's builtin model is built fresh, to be trained.
    """
    if user_model is not None:
        model = load_keras_model(user_model)
        check_model_fits(model, ds, user_model)
        return model, str(user_model)
    name = config.model.builtin
    return builtin_model(name, ds.sample_shape, ds.num_classes), f"builtin:{name}"


def builtin_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """A fresh (untrained) builtin model from :mod:`edgebench.models`, built with tf-keras."""
    _, keras, _ = import_tf()
    return BUILTIN_MODELS[name](keras, input_shape, num_classes)


def load_keras_model(path: Path) -> Any:
    """Load a user's .keras / .h5 model (uncompiled); a missing or broken file is an error."""
    _, keras, _ = import_tf()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist; check [model] path or --model")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file {path} is empty (0 bytes); save the model again")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # h5py, zipfile and Keras raise many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"cannot load {path} as a Keras model ({first[:200]}); save it again with "
            "model.save('model.keras') from tf-keras"
        ) from None


def check_model_fits(model: Any, ds: Dataset, where: Path | str) -> None:
    """The model must take one input of the dataset's sample size and output one logit a class."""
    shapes = model.input_shape
    if isinstance(shapes, list):
        raise DatasetError(f"{where} has {len(shapes)} inputs; edgebench needs one image input")
    dims = tuple(shapes[1:])
    sample = ds.sample_shape
    if None in dims or int(np.prod(dims)) != int(np.prod(sample)):
        raise DatasetError(
            f"the model {where} takes input {dims} but the dataset {ds.name} has samples "
            f"{sample}; use a model whose input holds {int(np.prod(sample))} values per sample "
            f"(e.g. {sample}) or a dataset that fits the model"
        )
    outputs = model.output_shape
    if isinstance(outputs, list) or outputs[-1] != ds.num_classes:
        raise DatasetError(
            f"the model {where} outputs {outputs} but the dataset {ds.name} has "
            f"{ds.num_classes} classes; the model needs one output of size {ds.num_classes}"
        )


# --------------------------------------------------------------------------- data


def write_eval_npz(path: Path, ds: Dataset) -> None:
    """The bench stage's test set: raw uint8 ``x``, int64 ``y``, and ``x_scale`` = 1/255."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, x=ds.x_test, y=ds.y_test, x_scale=np.float32(1.0 / 255.0))


def split_training_data(
    ds: Dataset, input_shape: tuple[int, ...], validation_split: float
) -> TrainingData:
    """Scale to [0, 1], shape for the model, and hold out the last part as Keras would."""
    x = scale_inputs(ds.x_train, input_shape)
    split_at = int(np.ceil(len(x) * (1.0 - validation_split)))
    return TrainingData(x[:split_at], ds.y_train[:split_at], x[split_at:], ds.y_train[split_at:])


def scale_inputs(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Raw uint8 samples as the model takes them: float32 in [0, 1], shaped ``input_shape``."""
    return (x.astype(np.float32) / 255.0).reshape((len(x), *input_shape))


def model_input_shape(model: Any) -> tuple[int, ...]:
    """The shape of one input sample of a Keras model (without the batch dimension)."""
    return tuple(int(d) for d in model.input_shape[1:])


def calibration_samples(pool: np.ndarray, seed: int) -> np.ndarray:
    """The int8 converter's representative samples: a seeded draw from ``pool``, in order."""
    rng = np.random.default_rng(seed)
    n = min(REPRESENTATIVE_SAMPLES, len(pool))
    return pool[np.sort(rng.choice(len(pool), size=n, replace=False))]


def ends_in_softmax(model: Any) -> bool:
    """Whether the model outputs probabilities; if not, its loss takes ``from_logits``."""
    last = model.layers[-1]
    return type(last).__name__ == "Softmax" or last.get_config().get("activation") == "softmax"


# --------------------------------------------------------------------------- artifacts


@dataclass
class ArtifactBuilder:
    """Saves, converts, measures and describes artifacts relative to the dense baseline.

    The first artifact recorded must be the dense baseline's Keras file: every compression
    ratio is measured against its zipped size.
    """

    out_dir: Path
    eval_path: Path
    x_test: np.ndarray
    y_test: np.ndarray
    x_calibration_pool: np.ndarray
    config: PipelineConfig
    progress: Progress
    dense_zip: int | None = None

    def keras(self, recipe: str, model: Any, filename: str, extra: dict[str, Any]) -> Artifact:
        """Save ``model`` as ``filename`` in the run folder and record it with its accuracy."""
        t0 = time.perf_counter()
        path = self.out_dir / filename
        save_h5(model, path)
        zipped = zip_bytes(path)
        if self.dense_zip is None:
            self.dense_zip = zipped
        wf = facts.keras_facts(model)
        accuracy = training.keras_accuracy(model, self.x_test, self.y_test)
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
            {**extra, "eval_n": int(len(self.y_test))},
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
        """Convert ``model`` to the TFLite variant ``kind``, save it and record it.

        ``strip`` ("all" or "keep-signatures") strips the file (:mod:`edgebench.build.strip`)
        after checking that the stripped model answers byte-identically; ``extra["strip"]``
        records what went.
        """
        t0 = time.perf_counter()
        path = self.out_dir / f"{recipe}-{kind.value}.tflite"
        try:
            flatbuffer = convert(model, kind, self._calibration(), sparse=sparse)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgebenchError(
                f"{recipe}: the TFLite converter failed on variant {kind.value} ({first[:200]}); "
                f"drop {kind.value!r} from that section's variants"
            ) from None
        path.write_bytes(flatbuffer)
        if strip != "none":
            extra = {**extra, "strip": self._strip(f"{recipe}/{kind.value}", path, strip)}
        return self.existing_tflite(recipe, kind, path, extra, t0)

    def _strip(self, name: str, path: Path, mode: str) -> dict[str, Any]:
        """Strip the file at ``path`` in place; return what went and what it weighed before."""
        flatbuffer = path.read_bytes()
        unstripped_zip = zip_bytes(path)
        out, removed = strip.strip_flatbuffer(flatbuffer, keep_signatures=mode == "keep-signatures")
        check = self._calibration()[:STRIP_CHECK_SAMPLES]
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
        )

    def _calibration(self) -> np.ndarray:
        return calibration_samples(self.x_calibration_pool, self.config.train.seed)

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
    ) -> Artifact:
        assert self.dense_zip is not None, "the dense baseline is recorded first"
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
        )
        acc = "n/a" if art.host_accuracy is None else f"{art.host_accuracy:.4f}"
        self.progress(
            f"{art.name}: {art.file_bytes:,} bytes, {art.zip_bytes:,} zipped "
            f"({art.compression_ratio:.2f}x), {art.nonzero_params:,}/{art.params:,} non-zero, "
            f"accuracy {acc} ({time.perf_counter() - t0:.1f} s)"
        )
        return art


def save_h5(model: Any, path: Path) -> None:
    """Save a tf_keras model as HDF5 without its optimizer."""
    with warnings.catch_warnings():  # "HDF5 is legacy": the guide measures .h5 on purpose
        warnings.simplefilter("ignore", UserWarning)
        model.save(path, include_optimizer=False)


def convert(
    model: Any,
    kind: VariantKind,
    calibration: np.ndarray,
    sparse: bool = False,
    dense_per_tensor: bool = False,
) -> bytes:
    """One TFLite variant of a tf_keras model, as the TFLite converter documents them.

    float32: plain; dynamic: ``Optimize.DEFAULT`` (int8 weights); float16: DEFAULT with float16
    weights; int8: full integer with a representative dataset, int8 input and output.
    ``sparse`` adds ``Optimize.EXPERIMENTAL_SPARSITY``: sparse weights are stored in a
    compressed (CSR-like) format that sparse kernels can use. ``dense_per_tensor`` (int8)
    quantises Dense (FULLY_CONNECTED) weights with one scale instead of one per output
    channel, as QAT does: a clustered kernel's k values then stay k int8 codes (per channel
    they can become up to k per channel, which zips worse).
    """
    tf, _, _ = import_tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind is VariantKind.DYNAMIC:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind is VariantKind.FLOAT16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind is VariantKind.INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative_dataset() -> Any:
            for i in range(len(calibration)):
                yield [calibration[i : i + 1]]

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if dense_per_tensor:
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif kind is not VariantKind.FLOAT32:
        raise ValueError(f"not a TFLite variant: {kind}")
    if sparse:
        converter.optimizations = [
            *converter.optimizations,
            tf.lite.Optimize.EXPERIMENTAL_SPARSITY,
        ]
    with warnings.catch_warnings():
        # int8 input/output makes the converter warn about input statistics it does not need.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def _versions(tf: Any, keras: Any, tfmot: Any) -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "tfmot": getattr(tfmot, "__version__", "unknown"),
        "numpy": np.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", "unknown"),
        "python": platform.python_version(),
    }
