"""Image-folder datasets (ROOT/{train,test}/<class>/<image>): decoding, resizing, labels, limits,
and every bad folder as one error that names the folder or the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgebench.build.datasets import is_image_dataset, load_dataset
from edgebench.errors import DatasetError

FIX = Path(__file__).parent / "fixtures"


def write_folder(root: Path, classes=("cat", "dog", "emu"), per_class=(4, 2), size=(12, 10),
                 fmt="png") -> Path:
    """An image folder whose pixel values say their class (class k: value 40 * (k + 1))."""
    for split, n in zip(("train", "test"), per_class, strict=True):
        for k, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = np.full((size[0], size[1], 3), 40 * (k + 1), np.uint8)
                arr[0, 0] = (i, 0, 0)
                Image.fromarray(arr).save(folder / f"{i:03d}.{fmt}")
    return root


def test_an_image_folder_loads_resized_with_labels_in_sorted_class_order(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets", classes=("emu", "cat", "dog"))
    (root / "train" / ".ipynb_checkpoints").mkdir()  # hidden folders are not classes
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    assert is_image_dataset(str(root))
    ds = load_dataset(str(root), image_size=(8, 6))
    assert ds.classes == ("cat", "dog", "emu") and ds.num_classes == 3
    assert ds.x_train.shape == (12, 8, 6, 3) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (6, 8, 6, 3)
    np.testing.assert_array_equal(ds.y_train, [0] * 4 + [1] * 4 + [2] * 4)
    # cat was written as class 1 (value 80): the label follows the folder's sorted name
    assert int(np.median(ds.x_train[ds.y_train == 0])) == 80


def test_grey_decoding_and_jpeg(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets", fmt="jpg")
    ds = load_dataset(str(root), image_size=(12, 10), channels=1)
    assert ds.x_train.shape == (12, 12, 10, 1)


def test_limits_keep_every_class(tmp_path: Path) -> None:
    """Files are sorted class by class, so 'the first N' would be one class: limits stratify."""
    root = write_folder(tmp_path / "pets", per_class=(4, 2))
    ds = load_dataset(str(root), train_limit=6, test_limit=3, image_size=(4, 4))
    assert sorted(ds.y_train.tolist()) == [0, 0, 1, 1, 2, 2]
    assert sorted(ds.y_test.tolist()) == [0, 1, 2]


def test_an_image_folder_needs_a_size_for_a_builtin_model(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets")
    with pytest.raises(DatasetError, match=r"set \[data\] image_size = \[height, width\]"):
        load_dataset(str(root))


def test_an_image_folder_with_one_class_names_the_fix(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets", classes=("cat",))
    with pytest.raises(DatasetError, match="has 1 class folder; an image folder needs one "
                                           "subfolder per class, at least two"):
        load_dataset(str(root), image_size=(4, 4))


def test_a_class_folder_without_images_is_named(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets")
    empty = root / "train" / "fox"
    empty.mkdir()
    (empty / "readme.md").write_text("no pictures yet")
    with pytest.raises(DatasetError, match=f"class folder {empty} has no images"):
        load_dataset(str(root), image_size=(4, 4))


def test_a_folder_with_no_images_at_all(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for c in ("a", "b"):
            (tmp_path / "x" / split / c).mkdir(parents=True)
    with pytest.raises(DatasetError, match="has no images"):
        load_dataset(str(tmp_path / "x"), image_size=(4, 4))


def test_an_unreadable_image_is_named(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets")
    bad = root / "train" / "dog" / "001.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated
    with pytest.raises(DatasetError, match=f"cannot read image {bad}: .*delete or replace it"):
        load_dataset(str(root), image_size=(4, 4))


def test_test_split_must_have_the_train_classes(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets")
    for f in (root / "test" / "emu").iterdir():
        f.unlink()
    (root / "test" / "emu").rmdir()
    with pytest.raises(DatasetError, match="both splits need the same class folders"):
        load_dataset(str(root), image_size=(4, 4))


@pytest.mark.parametrize(
    "damage, fragment",
    [
        ("one_class", "has 1 class folder"),
        ("no_images", "has no images"),
        ("unreadable", "cannot read image"),
    ],
)
def test_bad_image_folders_are_one_line_and_exit_2(cli, tmp_path: Path, damage: str,
                                                   fragment: str) -> None:
    root = write_folder(tmp_path / "pets", classes=("cat",) if damage == "one_class"
                        else ("cat", "dog"))
    if damage == "no_images":
        for f in (root / "test" / "dog").iterdir():
            f.unlink()
    if damage == "unreadable":
        (root / "train" / "dog" / "000.png").write_bytes(b"\x89PNG broken")
    config = tmp_path / "p.toml"
    config.write_text('schema_version = 1\n[data]\ndataset = "pets"\nimage_size = [28, 28]\n'
                      'color = "grey"\n[gate]\nbudgets = "b.toml"\n')
    earlier = tmp_path / "out" / "earlier" / "manifest.json"  # a run made before: kept
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    run = cli("build", "--config", config, "--out", tmp_path / "out", "--run", "r")
    run.error_line(fragment)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["earlier"]
    assert earlier.read_text() == "{}"
