"""Datasets for the build stage: image folders, MNIST-format IDX folders, .npz files and
well-known names.

A dataset holds raw samples (uint8 images, or an .npz's arrays of any dtype and shape) and,
optionally, class labels; preprocessing is applied later (build/preprocessing.py), the same way
on the host and in the runner. A model with several inputs gets one array per input name.

numpy (and Pillow for image folders) only; TensorFlow is imported only for a Keras download,
the last place a name is looked for. A name resolves, in order, from Debian's dataset package
folder, the Keras cache, then a Keras download. The first two places can be moved with
environment variables (``EDGEBENCH_DEBIAN_DATASETS``, ``KERAS_HOME``) and the download switched
off with ``EDGEBENCH_NO_DOWNLOAD=1``; tests do that.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.bench.device.runner.evaldata import select_samples
from edgebench.build import images
from edgebench.build._tf import import_tf
from edgebench.errors import DatasetError

DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")  # overridden by $EDGEBENCH_DEBIAN_DATASETS


Inputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class Dataset:
    """Raw samples and, optionally, class labels.

    ``x_train``/``x_test`` are one array (N, ...) for a single-input model, or
    ``{input name: array}`` for a model with several inputs. Labels are int64 (N,), or None
    when the data has none (then the fine-tune distils from the model's own outputs).
    """

    name: str
    source: str  # where it was read from
    x_train: np.ndarray | Inputs
    y_train: np.ndarray | None
    x_test: np.ndarray | Inputs
    y_test: np.ndarray | None
    num_classes: int | None
    classes: tuple[str, ...] = ()  # class names (an image folder's subfolders), if known

    @property
    def labelled(self) -> bool:
        return self.y_train is not None and self.y_test is not None

    @property
    def named_inputs(self) -> bool:
        """True when the samples are keyed by the model's input names (several inputs)."""
        return isinstance(self.x_train, dict)

    def inputs(self, split: str) -> Inputs:
        """``{name: array}`` of one split; a single unnamed input is keyed ``"x"``."""
        x = self.x_train if split == "train" else self.x_test
        return dict(x) if isinstance(x, dict) else {"x": x}

    @property
    def n_train(self) -> int:
        return _n(self.x_train)

    @property
    def n_test(self) -> int:
        return _n(self.x_test)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample of a single-input dataset (builtin models take one)."""
        if isinstance(self.x_train, dict):
            raise DatasetError(
                f"{self.source} has several inputs ({', '.join(self.x_train)}); a builtin "
                "model takes one: give x_train and x_test, or your own model"
            )
        return tuple(self.x_train.shape[1:])


def _n(x: np.ndarray | Inputs) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


@dataclass(frozen=True)
class _Known:
    debian_folder: str | None  # folder under DEBIAN_DATASETS_DIR, from a Debian package
    cache: tuple[str, ...]  # IDX folders or .npz files under the Keras cache's datasets/
    keras_module: str  # tf_keras.datasets.<module>
    fix: str  # the one thing that makes it available


KNOWN_DATASETS: dict[str, _Known] = {
    "fashion_mnist": _Known(
        debian_folder="fashion-mnist",
        cache=("fashion-mnist",),
        keras_module="fashion_mnist",
        fix="install it with: sudo apt-get install dataset-fashion-mnist",
    ),
    "mnist": _Known(
        debian_folder=None,  # no Debian package ships MNIST
        cache=("mnist.npz",),
        keras_module="mnist",
        fix=(
            "put mnist.npz (from https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
            "mnist.npz) in ~/.keras/datasets/, or set [data] dataset to the path of an .npz "
            "with x_train, y_train, x_test, y_test"
        ),
    ),
}

# IDX file names: the original "train-images-idx3-ubyte" and the common "train-images.idx3-ubyte".
_IDX_PARTS = {
    "x_train": ("train-images", "idx3"),
    "y_train": ("train-labels", "idx1"),
    "x_test": ("t10k-images", "idx3"),
    "y_test": ("t10k-labels", "idx1"),
}


def debian_datasets_dir() -> Path:
    return Path(os.environ.get("EDGEBENCH_DEBIAN_DATASETS") or DEBIAN_DATASETS_DIR)


def keras_cache_dir() -> Path:
    """Where Keras caches downloads: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def dataset_path(spec: str, base_dir: Path | None = None) -> Path | None:
    """The file or folder a dataset spec names (None for a known name); a missing path or an
    unknown name is a DatasetError that lists what is accepted."""
    if spec in KNOWN_DATASETS:
        return None
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if path.is_dir() or (path.is_file() and path.suffix == ".npz"):
        return path
    if path.exists():
        raise DatasetError(
            f"dataset {spec!r} ({path}) is neither a folder (images in class subfolders, or "
            "IDX files) nor an .npz file"
        )
    raise DatasetError(
        f"unknown dataset {spec!r}: it is not a known name ({', '.join(KNOWN_DATASETS)}) and "
        f"no file or folder exists at {path}; give a known name, an image folder "
        "(train/<class>/…, test/<class>/…), a folder of MNIST-format IDX files, or an .npz "
        "with x_train and x_test (y_train, y_test optional)"
    )


def is_image_dataset(spec: str, base_dir: Path | None = None) -> bool:
    """Whether ``spec`` names an image folder (its decoding needs the model's input size)."""
    path = dataset_path(spec, base_dir)
    return path is not None and path.is_dir() and images.is_image_folder(path)


def load_dataset(
    spec: str,
    base_dir: Path | None = None,
    train_limit: int = 0,
    test_limit: int = 0,
    image_size: tuple[int, int] | None = None,
    channels: int = 3,
) -> Dataset:
    """Load a dataset by name, image folder, IDX folder or .npz path (relative to
    ``base_dir``, else cwd).

    ``train_limit`` / ``test_limit`` keep N samples (0 = all): the first N of arrays, a
    stratified subset of an image folder (whose files are sorted class by class). An image
    folder is decoded at ``image_size`` (height, width) with ``channels`` (3: RGB, 1: grey).
    """
    path = dataset_path(spec, base_dir)
    if path is None:
        return _limit(_load_by_name(spec), train_limit, test_limit)
    if path.is_dir() and images.is_image_folder(path):
        return load_image_dataset(
            spec, path, image_size, channels=channels, train_limit=train_limit,
            test_limit=test_limit,
        )
    if path.is_dir():
        return _limit(_from_arrays(spec, str(path), load_idx_folder(path)), train_limit,
                      test_limit)
    return _limit(_from_arrays(spec, str(path), load_npz(path)), train_limit, test_limit)


def load_image_dataset(
    name: str,
    root: Path,
    image_size: tuple[int, int] | None,
    channels: int = 3,
    train_limit: int = 0,
    test_limit: int = 0,
) -> Dataset:
    """Decode an image folder at ``image_size``; limits keep a stratified subset."""
    if image_size is None:
        raise DatasetError(
            f"{root} is an image folder, and images are resized to the model's input size; "
            "set [data] image_size = [height, width] for a builtin model"
        )
    if channels not in (1, 3):
        raise DatasetError(f"image folders load as RGB (3 channels) or grey (1); got {channels}")
    height, width = image_size
    train, test = images.check_image_folder(root)
    splits = []
    for files, limit in ((train, train_limit), (test, test_limit)):
        picked, _ = select_samples(files.labels, len(files.files), limit, seed=0)
        idx = np.arange(len(files.files)) if picked is None else picked
        x = images.decode_all([files.files[i] for i in idx], (height, width), channels)
        splits.append((x, files.labels[idx]))
    (x_train, y_train), (x_test, y_test) = splits
    return Dataset(
        name=name, source=str(root), x_train=x_train, y_train=y_train, x_test=x_test,
        y_test=y_test, num_classes=len(train.classes), classes=train.classes,
    )


def _load_by_name(name: str) -> Dataset:
    known = KNOWN_DATASETS[name]
    tried: list[str] = []
    if known.debian_folder:
        folder = debian_datasets_dir() / known.debian_folder
        if _has_idx(folder):
            return _from_arrays(name, str(folder), load_idx_folder(folder))
        tried.append(f"{folder} (Debian package folder): not there")
    for entry in known.cache:
        place = keras_cache_dir() / entry
        if place.suffix == ".npz" and place.is_file():
            return _from_arrays(name, str(place), load_npz(place))
        if place.suffix != ".npz" and _has_idx(place):
            return _from_arrays(name, str(place), load_idx_folder(place))
        tried.append(f"{place} (Keras cache): not there")
    if os.environ.get("EDGEBENCH_NO_DOWNLOAD"):
        tried.append("Keras download: switched off by EDGEBENCH_NO_DOWNLOAD")
    else:
        try:
            arrays = _keras_download(known.keras_module)
        except Exception as exc:  # no TensorFlow, no network, a bad mirror: all end here
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            tried.append(f"Keras download (tf_keras.datasets.{known.keras_module}): {first}")
        else:
            return _from_arrays(name, f"keras download ({keras_cache_dir()})", arrays)
    raise DatasetError(
        f"dataset {name!r} not found; tried " + "; ".join(tried) + f". To fix: {known.fix}"
    )


def _keras_download(module: str) -> dict[str, np.ndarray]:
    _, keras, _ = import_tf()
    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, module).load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# --------------------------------------------------------------------------- IDX


def _idx_file(folder: Path, key: str) -> Path | None:
    stem, kind = _IDX_PARTS[key]
    for name in (f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte"):
        for suffix in (".gz", ""):
            candidate = folder / (name + suffix)
            if candidate.is_file():
                return candidate
    return None


def _has_idx(folder: Path) -> bool:
    return folder.is_dir() and all(_idx_file(folder, k) for k in _IDX_PARTS)


def load_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """Read the four MNIST-format IDX files (gzipped or not) in ``folder``."""
    arrays = {}
    for key, (stem, kind) in _IDX_PARTS.items():
        path = _idx_file(folder, key)
        if path is None:
            raise DatasetError(
                f"{folder} has no {stem}-{kind}-ubyte[.gz]; a dataset folder needs "
                "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                "and t10k-labels-idx1-ubyte (gzipped or not)"
            )
        arrays[key] = read_idx(path)
    return arrays


def read_idx(path: Path) -> np.ndarray:
    """One IDX file of unsigned bytes (images or labels); truncated or corrupt is DatasetError."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} is corrupt or truncated ({exc}); download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number); download it again")
    if raw[2] != 0x08:
        raise DatasetError(f"{path} holds IDX type 0x{raw[2]:02x}; only unsigned bytes (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path} is truncated inside its header; download it again")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise DatasetError(
            f"{path} is truncated or corrupt: its header promises {expected} bytes of data "
            f"{shape}, the file has {len(raw) - header}; download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


# --------------------------------------------------------------------------- npz


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz dataset: x_train and x_test (or, for a model with several
    inputs, x_train_<input> and x_test_<input> for each), y_train and y_test if present."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            singles = [k for k in ("x_train", "x_test") if k in files]
            named = [k for k in files if k.startswith(("x_train_", "x_test_"))]
            if len(singles) == 1 or (not singles and not named):
                missing = [k for k in ("x_train", "x_test") if k not in files]
                raise DatasetError(
                    f"{path} lacks {', '.join(missing)}; an .npz dataset needs x_train and "
                    "x_test (for several model inputs, x_train_<input> and x_test_<input> "
                    "each), y_train and y_test optional (it has "
                    f"{', '.join(files) or 'nothing'})"
                )
            has_y = [k for k in ("y_train", "y_test") if k in files]
            if len(has_y) == 1:
                other = "y_test" if has_y == ["y_train"] else "y_train"
                raise DatasetError(
                    f"{path} has {has_y[0]} but not {other}; give labels for both splits or "
                    "for neither (without labels, edgebench distils from the model's outputs)"
                )
            keys = singles or named
            arrays = {k: data[k] for k in (*keys, *has_y)}
    except DatasetError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (object arrays), OSError
        raise DatasetError(f"cannot read {path} as an .npz file ({exc}); rebuild it") from None
    if not singles:
        train = sorted(k[len("x_train_"):] for k in named if k.startswith("x_train_"))
        test = sorted(k[len("x_test_"):] for k in named if k.startswith("x_test_"))
        if train != test:
            raise DatasetError(
                f"{path} has inputs {train} in x_train_* but {test} in x_test_*; give every "
                "input in both splits"
            )
    return arrays


# --------------------------------------------------------------------------- checks


def _from_arrays(name: str, source: str, arrays: dict[str, np.ndarray]) -> Dataset:
    splits: list[np.ndarray | Inputs] = []
    for split in ("train", "test"):
        key = f"x_{split}"
        if key in arrays:
            splits.append(_samples(arrays[key], key, source))
        else:
            prefix = f"{key}_"
            splits.append({
                k[len(prefix):]: _samples(v, k, source)
                for k, v in sorted(arrays.items()) if k.startswith(prefix)
            })
    x_train, x_test = splits
    labelled = "y_train" in arrays and "y_test" in arrays
    y_train = _labels(arrays["y_train"], "y_train", source) if labelled else None
    y_test = _labels(arrays["y_test"], "y_test", source) if labelled else None
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        counts = {_n(x)} if not isinstance(x, dict) else {len(v) for v in x.values()}
        if len(counts) != 1:
            raise DatasetError(
                f"{source}: the {split} inputs have different sample counts {sorted(counts)}; "
                "every input needs one sample per example"
            )
        if y is not None and len(y) != _n(x):
            raise DatasetError(
                f"{source}: {_n(x)} {split} samples but {len(y)} {split} labels; "
                "the dataset is inconsistent"
            )
    for key, a, b in _pairs(x_train, x_test):
        if a.shape[1:] != b.shape[1:]:
            raise DatasetError(
                f"{source}: {key} train samples are {a.shape[1:]} but test samples are "
                f"{b.shape[1:]}"
            )
    if _n(x_train) == 0 or _n(x_test) == 0:
        raise DatasetError(f"{source}: the train or test split is empty")
    num_classes = None
    if y_train is not None and y_test is not None:
        num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(
        name=name, source=source, x_train=x_train, y_train=y_train, x_test=x_test,
        y_test=y_test, num_classes=num_classes,
    )


def _pairs(a: np.ndarray | Inputs, b: np.ndarray | Inputs) -> list[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [(f"input {k!r}:", a[k], b[k]) for k in a]
    return [("", a, b)]


def _samples(x: np.ndarray, key: str, source: str) -> np.ndarray:
    """Samples of any numeric dtype and shape (N, ...); preprocessing turns them into floats."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise DatasetError(
            f"{source}: {key} has shape {x.shape}; samples need a batch axis first, (N, ...)"
        )
    if x.dtype.kind not in "biuf":
        raise DatasetError(
            f"{source}: {key} holds {x.dtype}; samples must be numbers (integers or floats)"
        )
    return x


def _labels(y: np.ndarray, key: str, source: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # (N, 1) column labels, as some exports write them
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise DatasetError(
            f"{source}: {key} must be non-negative integer class labels of shape (N,); got "
            f"{y.dtype} {y.shape} (leave y_train and y_test out for data without class labels)"
        )
    return y.astype(np.int64)


def _limit(ds: Dataset, train_limit: int, test_limit: int) -> Dataset:
    if not train_limit and not test_limit:
        return ds

    def head(x: Any, n: int) -> Any:
        if not n or x is None:
            return x
        return {k: v[:n] for k, v in x.items()} if isinstance(x, dict) else x[:n]

    return dataclasses.replace(
        ds,
        x_train=head(ds.x_train, train_limit),
        y_train=head(ds.y_train, train_limit),
        x_test=head(ds.x_test, test_limit),
        y_test=head(ds.y_test, test_limit),
    )
