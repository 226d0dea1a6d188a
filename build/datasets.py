"""Datasets for the build stage: MNIST-format IDX folders, .npz files and well-known names.

numpy only; TensorFlow is imported only for a Keras download, the last place a name is
looked for. A name resolves, in order, from Debian's dataset package folder, the Keras cache,
then a Keras download. The first two places can be moved with environment variables
(``EDGEBENCH_DEBIAN_DATASETS``, ``KERAS_HOME``) and the download switched off with
``EDGEBENCH_NO_DOWNLOAD=1``; tests do that.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgebench.build._tf import import_tf
from edgebench.errors import DatasetError

DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")  # overridden by $EDGEBENCH_DEBIAN_DATASETS


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 (N, H, W) with values 0..255, labels as int64 (N,)."""

    name: str
    source: str  # where it was read from
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


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


def load_dataset(
    spec: str, base_dir: Path | None = None, train_limit: int = 0, test_limit: int = 0
) -> Dataset:
    """Load a dataset by name, IDX folder or .npz path (relative to ``base_dir``, else cwd).

    ``train_limit`` / ``test_limit`` keep the first N samples (0 = all).
    """
    if spec in KNOWN_DATASETS:
        ds = _load_by_name(spec)
    else:
        path = Path(spec).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        if path.is_dir():
            ds = _from_arrays(spec, str(path), load_idx_folder(path))
        elif path.is_file() and path.suffix == ".npz":
            ds = _from_arrays(spec, str(path), load_npz(path))
        elif path.exists():
            raise DatasetError(
                f"dataset {spec!r} ({path}) is neither a folder of IDX files nor an .npz file"
            )
        else:
            raise DatasetError(
                f"unknown dataset {spec!r}: it is not a known name "
                f"({', '.join(KNOWN_DATASETS)}) and no file or folder exists at {path}; "
                "give a known name, a folder of MNIST-format IDX files, or an .npz with "
                "x_train, y_train, x_test, y_test"
            )
    return _limit(ds, train_limit, test_limit)


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
    opener: Callable[..., object] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            raw = fh.read()  # type: ignore[attr-defined]
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
    """Read x_train, y_train, x_test, y_test from an .npz file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _IDX_PARTS if k not in data.files]
            if missing:
                raise DatasetError(
                    f"{path} lacks {', '.join(missing)}; an .npz dataset needs x_train, "
                    f"y_train, x_test, y_test (it has {', '.join(data.files) or 'nothing'})"
                )
            return {k: data[k] for k in _IDX_PARTS}
    except DatasetError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError
        raise DatasetError(f"cannot read {path} as an .npz file ({exc}); rebuild it") from None


# --------------------------------------------------------------------------- checks


def _from_arrays(name: str, source: str, arrays: dict[str, np.ndarray]) -> Dataset:
    x_train, x_test = (_images(arrays[k], k, source) for k in ("x_train", "x_test"))
    y_train, y_test = (_labels(arrays[k], k, source) for k in ("y_train", "y_test"))
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise DatasetError(
                f"{source}: {len(x)} {split} images but {len(y)} {split} labels; "
                "the dataset is inconsistent"
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(
            f"{source}: train images are {x_train.shape[1:]} but test images are {x_test.shape[1:]}"
        )
    if len(x_train) == 0 or len(x_test) == 0:
        raise DatasetError(f"{source}: the train or test split is empty")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(name, source, x_train, y_train, x_test, y_test, num_classes)


def _images(x: np.ndarray, key: str, source: str) -> np.ndarray:
    if x.ndim < 2:
        raise DatasetError(f"{source}: {key} has shape {x.shape}; images need (N, H, W)")
    if x.dtype != np.uint8:
        if x.dtype.kind not in "iu" or x.size and (x.min() < 0 or x.max() > 255):
            raise DatasetError(
                f"{source}: {key} must hold pixel values 0..255 as integers; got {x.dtype}"
            )
        x = x.astype(np.uint8)
    return x


def _labels(y: np.ndarray, key: str, source: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # (N, 1) column labels, as some exports write them
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise DatasetError(
            f"{source}: {key} must be non-negative integer class labels of shape (N,); got "
            f"{y.dtype} {y.shape}"
        )
    return y.astype(np.int64)


def _limit(ds: Dataset, train_limit: int, test_limit: int) -> Dataset:
    if not train_limit and not test_limit:
        return ds
    return Dataset(
        ds.name,
        ds.source,
        ds.x_train[:train_limit] if train_limit else ds.x_train,
        ds.y_train[:train_limit] if train_limit else ds.y_train,
        ds.x_test[:test_limit] if test_limit else ds.x_test,
        ds.y_test[:test_limit] if test_limit else ds.y_test,
        ds.num_classes,
    )
