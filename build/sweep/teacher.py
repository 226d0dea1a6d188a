"""The teacher a sweep distils from, as a cache entry: its soft targets on the sweep's data.

``[train] teacher`` names a builtin model (trained here once, on the training data less the
validation split, as the baseline is) or a trained model file. Either way the entry holds
``soft_targets.npz``: the teacher's outputs on the fit and validation samples, in the
student's convention (log-probabilities for a student that outputs logits, probabilities for
one that ends in softmax), so every distilled fine-tune reads them instead of running the
teacher again. ``""`` means no entry: fine-tunes distil from the dense baseline itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build import sources, training
from edgebench.build._tf import import_tf
from edgebench.build.baseline import builtin_model, ends_in_softmax
from edgebench.build.cache import Cache, cache_key
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset
from edgebench.build.progress import Progress
from edgebench.build.sections import teacher_is_builtin
from edgebench.build.sweep.split import sweep_data, sweep_training_data
from edgebench.build.training import TrainingData
from edgebench.errors import ConfigError, ModelFileError

TEACHER_STAGE = "teacher"
TARGETS_FILE, MODEL_FILE = "soft_targets.npz", "teacher.h5"
# The builtin teacher trains in batches of 128 whatever [train] batch_size says: on the 2-core
# VM an epoch of teacher_cnn takes ~10 s at 128 and ~2.5x that at 32, for the same ~92%.
TEACHER_BATCH = 128


def teacher_path(config: PipelineConfig) -> Path:
    """A file or folder ``[train] teacher``, relative to the config file's folder."""
    path = Path(config.train.teacher)
    return path if path.is_absolute() else config.base_dir / path


def teacher_key(config: PipelineConfig, fingerprint: str, from_logits: bool) -> str | None:
    """The teacher entry's key (data, teacher, how it trains, the split), or None without one."""
    train, sweep = config.train, config.sweep
    if not train.teacher:
        return None
    assert sweep is not None, "a sweep's teacher comes from a [sweep] config"
    if teacher_is_builtin(train.teacher):
        what: Any = [train.teacher, train.teacher_epochs, TEACHER_BATCH, train.learning_rate,
                     train.lr_schedule, train.seed]
    else:
        what = _file_hash(teacher_path(config))
    split = {"validation_split": sweep.validation_split, "seed": sweep.seed}
    return cache_key(TEACHER_STAGE, fingerprint, what, split, from_logits)


def _file_hash(path: Path) -> str:
    if not path.exists():
        raise ModelFileError(
            f"teacher {path} does not exist; give a trained .keras / .h5 file or SavedModel "
            'folder as [train] teacher, a builtin model (teacher_cnn), or "" for none'
        )
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path.parent)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def build_teacher(
    config: PipelineConfig, ds: Dataset, from_logits: bool, tmp: Path, progress: Progress
) -> dict[str, Any]:
    """Train the builtin teacher (or load the given one) and write its soft targets to ``tmp``."""
    _, keras, _ = import_tf()
    assert config.sweep is not None, "a sweep's teacher comes from a [sweep] config"
    arrays = sweep_data(ds)
    train = config.train
    if teacher_is_builtin(train.teacher):
        keras.utils.set_random_seed(train.seed)
        model = builtin_model(train.teacher, ds.sample_shape, arrays.num_classes)
        data = sweep_training_data(ds, ds.sample_shape, config.sweep)
        steps = -(-len(data.x_fit) // TEACHER_BATCH)
        rate = training.learning_rate_schedule(
            train.lr_schedule, train.learning_rate, total_steps=train.teacher_epochs * steps
        )
        training.compile_model(model, rate, from_logits=True)
        training.fit_model(model, data, epochs=train.teacher_epochs, batch_size=TEACHER_BATCH,
                           label="teacher", progress=progress)
        model.save(tmp / MODEL_FILE, include_optimizer=False)
        outputs = _keras_outputs(model)
    else:
        outputs = _file_outputs(teacher_path(config))
    fit = _targets(outputs, ds, config, "fit", arrays.num_classes, from_logits)
    val = _targets(outputs, ds, config, "val", arrays.num_classes, from_logits)
    np.savez(tmp / TARGETS_FILE, fit=fit, val=val)
    data = sweep_training_data(ds, ds.sample_shape, config.sweep)
    meta = {
        "teacher": train.teacher,
        "val_accuracy": _accuracy(val, data.y_val),
        "fit_accuracy": _accuracy(fit, data.y_fit),
    }
    progress(f"teacher {train.teacher}: validation accuracy {meta['val_accuracy']:.4f}")
    return meta


def check_teacher(config: PipelineConfig, ds: Dataset) -> None:
    """Refuse, before anything trains, a teacher file that does not load or whose outputs are
    not one score per class of the student's."""
    train = config.train
    if not train.teacher or teacher_is_builtin(train.teacher):
        return
    path = teacher_path(config)
    _file_hash(path)  # a missing file, named
    _, _, out_shape = _file_outputs(path)
    _check_outputs(config, out_shape, sweep_data(ds).num_classes)


def _check_outputs(config: PipelineConfig, out_shape: Any, num_classes: int) -> None:
    if tuple(out_shape[1:]) != (num_classes,):
        raise ConfigError(
            f"teacher {config.train.teacher} outputs shape {tuple(out_shape)}, the student "
            f"(None, {num_classes}): give a teacher trained on the same {num_classes} classes"
        )


def _accuracy(targets: np.ndarray, y: np.ndarray) -> float:
    return round(float(np.mean(np.argmax(targets, axis=1) == np.asarray(y).reshape(-1))), 5)


def _keras_outputs(model: Any) -> Any:
    """``(input_shape, x -> the teacher's probabilities)`` of a Keras model."""
    shape = tuple(int(d) for d in model.input_shape[1:])
    softmax = ends_in_softmax(model)

    def run(x: np.ndarray) -> np.ndarray:
        out = np.asarray(model.predict(x, batch_size=1024, verbose=0), np.float64)
        return out if softmax else _softmax(out)

    return shape, run, tuple(model.output_shape)


def _file_outputs(path: Path) -> Any:
    """The same for a trained file: a .keras / .h5 model or a SavedModel's signature."""
    tf, _, _ = import_tf()
    try:
        source = sources.load_source(path)
    except ModelFileError as exc:
        raise ModelFileError(f"[train] teacher does not load: {exc}") from None
    if source.model is not None:
        return _keras_outputs(source.model)
    if len(source.inputs) != 1 or len(source.outputs) != 1:
        raise ConfigError(
            f"teacher {path} has {len(source.inputs)} inputs and {len(source.outputs)} outputs; "
            "a teacher takes the student's one input and gives one score per class"
        )
    fn = tf.saved_model.load(str(path)).signatures[source.signature]
    name, dtype = source.inputs[0].name, source.inputs[0].dtype
    shape = tuple(int(d or 1) for d in source.inputs[0].shape[1:])

    def run(x: np.ndarray) -> np.ndarray:
        outs = [
            np.asarray(next(iter(fn(**{name: tf.constant(x[i : i + 1024], dtype)}).values())))
            for i in range(0, len(x), 1024)
        ]
        out = np.concatenate(outs).astype(np.float64)
        probs = np.all(out >= 0, axis=1) & np.allclose(out.sum(axis=1), 1.0, atol=1e-3)
        return out if bool(np.all(probs)) else _softmax(out)

    return shape, run, (None, *source.outputs[0].shape[1:])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _targets(
    outputs: Any, ds: Dataset, config: PipelineConfig, part: str, num_classes: int,
    from_logits: bool,
) -> np.ndarray:
    """The teacher's outputs on the fit or validation samples, in the student's convention."""
    shape, run, out_shape = outputs
    _check_outputs(config, out_shape, num_classes)
    assert config.sweep is not None
    data: TrainingData = sweep_training_data(ds, shape, config.sweep)
    x = data.x_fit if part == "fit" else data.x_val
    probs = run(x)  # already scaled and shaped for the teacher
    probs = np.clip(probs, 1e-7, 1.0)
    return np.asarray(np.log(probs) if from_logits else probs, np.float32)


@dataclass(frozen=True)
class TeacherEntry:
    """The teacher's cache entry, as the driver reports it."""

    key: str
    path: Path
    built: bool
    meta: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """For the manifest's ``sweep.teacher``."""
        return {"key": self.key, "built": self.built, **self.meta}


def build_teacher_entry(
    config: PipelineConfig,
    ds: Dataset,
    cache: Cache,
    fingerprint: str,
    baseline_meta: dict[str, Any],
    progress: Progress,
) -> TeacherEntry | None:
    """The teacher's entry, trained or checked on a cache miss; None without a teacher."""
    from_logits = bool(baseline_meta["from_logits"])
    key = teacher_key(config, fingerprint, from_logits)
    if key is None:
        return None
    entry, built = cache.get_or_build(
        TEACHER_STAGE, key, lambda tmp: build_teacher(config, ds, from_logits, tmp, progress)
    )
    progress(f"teacher: {'trained' if built else 'from the cache'} ({entry.path})")
    return TeacherEntry(key, entry.path, built, dict(entry.meta))


def load_soft_targets(cache: Cache, key: str | None) -> dict[str, np.ndarray] | None:
    """The teacher entry's soft targets (``fit``, ``val``), or None without a teacher."""
    if key is None:
        return None
    entry = cache.get(TEACHER_STAGE, key)
    if entry is None:
        raise RuntimeError(f"teacher {key} missing from {cache.root}")
    with np.load(entry.path / TARGETS_FILE) as z:
        return {"fit": z["fit"], "val": z["val"]}
