"""Dataset loaders: IDX folders (gzipped or not), .npz, and name resolution with its errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from edgebench.build import datasets
from edgebench.build.datasets import load_dataset, read_idx
from edgebench.errors import DatasetError

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def make_arrays(n_train: int, n_test: int, fill: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(fill)
    return {
        "x_train": np.full((n_train, 4, 5), fill, np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 4, 5)).astype(np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }


def write_idx_folder(
    folder: Path, arrays: dict[str, np.ndarray], gz: bool = True, dotted: bool = False
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in FILES.items():
        if dotted:
            name = name.replace("-idx", ".idx")
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty Debian and Keras-cache folders, and no download, for name-resolution tests."""
    debian, keras_home = tmp_path / "debian", tmp_path / "keras"
    debian.mkdir()
    keras_home.mkdir()
    monkeypatch.setenv("EDGEBENCH_DEBIAN_DATASETS", str(debian))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("EDGEBENCH_NO_DOWNLOAD", "1")
    return {"debian": debian, "cache": keras_home / "datasets"}


@pytest.mark.parametrize(("gz", "dotted"), [(True, False), (False, False), (False, True)])
def test_idx_folder_loads_gzipped_plain_and_dotted_names(
    tmp_path: Path, gz: bool, dotted: bool
) -> None:
    arrays = make_arrays(7, 3, fill=9)
    folder = write_idx_folder(tmp_path / "data", arrays, gz=gz, dotted=dotted)
    ds = load_dataset("data", base_dir=tmp_path)
    assert ds.source == str(folder)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape == (7, 4, 5)
    assert ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.x_test, arrays["x_test"])
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.num_classes == 10 and ds.sample_shape == (4, 5)


def test_npz_loads_and_limits_keep_the_first_samples(tmp_path: Path) -> None:
    arrays = make_arrays(20, 10, fill=3)
    arrays["y_train"] = arrays["y_train"].astype(np.int32)
    np.savez(tmp_path / "d.npz", **arrays)
    ds = load_dataset(str(tmp_path / "d.npz"), train_limit=5, test_limit=4)
    assert (len(ds.x_train), len(ds.y_train), len(ds.x_test), len(ds.y_test)) == (5, 5, 4, 4)
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"][:4])
    assert ds.y_train.dtype == np.int64


def test_npz_without_the_needed_keys_says_which_are_missing(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x_train=np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(DatasetError, match="lacks x_test; an .npz dataset needs x_train and"):
        load_dataset(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", images=np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(DatasetError, match="lacks x_train, x_test.*it has images"):
        load_dataset(str(tmp_path / "e.npz"))


def test_float_samples_of_any_shape_load_as_they_are(tmp_path: Path) -> None:
    """Preprocessing happens later (build/preprocessing.py): the dataset keeps the values."""
    arrays = make_arrays(4, 2, fill=1)
    arrays["x_train"] = (arrays["x_train"] / 255.0).astype(np.float64)
    arrays["x_test"] = arrays["x_test"].astype(np.float64) / 255.0
    np.savez(tmp_path / "d.npz", **arrays)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.x_train.dtype == np.float64 and ds.x_train.shape == (4, 4, 5)
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"])


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_idx_is_a_dataset_error(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(np.zeros((10, 4, 5), np.uint8))[:-7]
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetError, match=r"truncated or corrupt.*promises 200 bytes.*has 193"):
        read_idx(path)


def test_cut_gzip_stream_and_bad_magic_are_dataset_errors(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 4, 5), np.uint8)))[:40])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        read_idx(cut)
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DatasetError, match="bad magic number"):
        read_idx(bad)


def test_a_folder_missing_one_file_names_it(tmp_path: Path) -> None:
    folder = write_idx_folder(tmp_path / "data", make_arrays(3, 2, fill=1))
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="has no t10k-labels-idx1-ubyte"):
        load_dataset(str(folder))


def test_unknown_name_lists_the_names_and_says_a_path_works(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", base_dir=tmp_path)
    msg = str(err.value)
    assert "unknown dataset 'cifar10'" in msg and "fashion_mnist, mnist" in msg
    assert str(tmp_path / "cifar10") in msg and ".npz" in msg and "IDX" in msg


def test_name_resolves_debian_first_then_keras_cache(places: dict[str, Path]) -> None:
    write_idx_folder(places["cache"] / "fashion-mnist", make_arrays(5, 2, fill=2))
    ds = load_dataset("fashion_mnist")
    assert ds.source == str(places["cache"] / "fashion-mnist") and len(ds.x_train) == 5

    write_idx_folder(places["debian"] / "fashion-mnist", make_arrays(3, 2, fill=1))
    ds = load_dataset("fashion_mnist")
    assert ds.source == str(places["debian"] / "fashion-mnist") and len(ds.x_train) == 3
    assert int(ds.x_train[0, 0, 0]) == 1


def test_mnist_comes_from_the_keras_cache_npz(places: dict[str, Path]) -> None:
    places["cache"].mkdir(parents=True)
    np.savez(places["cache"] / "mnist.npz", **make_arrays(6, 4, fill=5))
    ds = load_dataset("mnist")
    assert ds.name == "mnist" and ds.source.endswith("mnist.npz") and len(ds.x_train) == 6


def test_missing_fashion_mnist_names_every_place_and_the_fix(places: dict[str, Path]) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion_mnist")
    msg = str(err.value)
    assert str(places["debian"] / "fashion-mnist") in msg
    assert str(places["cache"] / "fashion-mnist") in msg
    assert "Keras download" in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_missing_mnist_says_how_to_provide_it(places: dict[str, Path]) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist")
    msg = str(err.value)
    assert str(places["cache"] / "mnist.npz") in msg
    assert "put mnist.npz" in msg and ".npz with x_train" in msg


def test_keras_download_is_the_last_resort(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGEBENCH_NO_DOWNLOAD")
    calls = []

    def offline(module: str) -> dict:
        calls.append(module)
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(datasets, "_keras_download", offline)
    with pytest.raises(
        DatasetError,
        match=r"Keras download \(tf_keras\.datasets\.mnist\): "
        r"URL fetch failure",
    ):
        load_dataset("mnist")
    assert calls == ["mnist"]

    monkeypatch.setattr(datasets, "_keras_download", lambda module: make_arrays(4, 2, fill=7))
    ds = load_dataset("fashion_mnist")
    assert ds.source.startswith("keras download") and len(ds.x_train) == 4


def test_debian_fashion_mnist_is_the_real_thing() -> None:
    ds = load_dataset("fashion_mnist", train_limit=100, test_limit=50)
    assert ds.source == "/usr/share/datasets/fashion-mnist"
    assert ds.x_train.shape == (100, 28, 28) and ds.x_test.shape == (50, 28, 28)
    assert ds.num_classes == 10 and ds.x_train.max() > 200


def test_npz_without_labels_loads_unlabelled(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.random((6, 3, 2)), x_test=rng.random((4, 3, 2)))
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert not ds.labelled and ds.y_train is None and ds.num_classes is None
    assert ds.n_train == 6 and ds.n_test == 4


def test_npz_with_labels_for_one_split_only_names_the_fix(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x_train=np.zeros((2, 3)), x_test=np.zeros((2, 3)),
             y_train=np.zeros(2, np.int64))
    with pytest.raises(DatasetError, match="has y_train but not y_test; give labels for both"):
        load_dataset(str(tmp_path / "d.npz"))


def test_npz_with_one_array_per_input_name(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train_image=rng.integers(0, 255, (5, 4, 4, 3)),
             x_train_meta=rng.random((5, 7)), x_test_image=rng.integers(0, 255, (3, 4, 4, 3)),
             x_test_meta=rng.random((3, 7)), y_train=np.arange(5), y_test=np.arange(3))
    ds = load_dataset(str(tmp_path / "d.npz"), train_limit=4)
    assert ds.named_inputs and sorted(ds.x_train) == ["image", "meta"]
    assert ds.x_train["meta"].shape == (4, 7) and ds.n_test == 3 and ds.num_classes == 5


def test_npz_inputs_must_be_in_both_splits_with_one_sample_count(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x_train_image=np.zeros((2, 3)), x_train_meta=np.zeros((2, 1)),
             x_test_image=np.zeros((2, 3)))
    with pytest.raises(DatasetError, match=r"inputs \['image', 'meta'\] in x_train_\* but "
                                           r"\['image'\] in x_test_\*"):
        load_dataset(str(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", x_train_image=np.zeros((2, 3)), x_train_meta=np.zeros((3, 1)),
             x_test_image=np.zeros((2, 3)), x_test_meta=np.zeros((2, 1)))
    with pytest.raises(DatasetError, match="different sample counts"):
        load_dataset(str(tmp_path / "b.npz"))


def test_npz_without_the_needed_keys_is_one_line_and_exit_2(cli, tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 28, 28), np.uint8))
    config = tmp_path / "p.toml"
    config.write_text('schema_version = 1\n[data]\ndataset = "d.npz"\n')
    earlier = tmp_path / "out" / "earlier" / "manifest.json"  # a run made before: kept
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    cli("build", "--config", config, "--out", tmp_path / "out").error_line(
        "lacks x_train, x_test", "an .npz dataset needs x_train and x_test")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["earlier"]
    assert earlier.read_text() == "{}"
