"""How a dataset meets a model: which array feeds which input at what shape, which output
the labels are for, which outputs are class vectors, and the size an image folder decodes at.

Everything here is checked before training, so a mismatch is one line naming the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgebench.build import sources
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset, dataset_path
from edgebench.build.images import check_image_folder
from edgebench.build.training import output_ends_in_softmax
from edgebench.errors import ConfigError, DatasetError


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
        height, width = config.data.image_size
        return (height, width), config.data.channels
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
    if c is None or c not in (1, 3):
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
        if None in spec.shape:
            if len(spec.shape) != len(sample):
                raise DatasetError(
                    f"{where}'s input {name!r} takes {list(spec.shape)} but the data's samples "
                    f"are {list(sample)}; give samples of that rank"
                )
            dims = tuple(s if d is None else d for d, s in zip(spec.shape, sample, strict=True))
        else:
            dims = tuple(d for d in spec.shape if d is not None)  # all known: spec.shape itself
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
