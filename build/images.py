"""Image-folder datasets: ``ROOT/train/<class>/<image>`` and ``ROOT/test/<class>/<image>``.

One label per class subfolder, in sorted folder-name order (the order Keras's
``image_dataset_from_directory`` uses); train and test must have the same class folders. Every
image is decoded with Pillow, converted to RGB (or grey) and resized bilinearly to the model's
input size; the samples are uint8 (N, H, W, C). Hidden files and folders are skipped. numpy and
Pillow only: no TensorFlow.

:func:`check_image_folder` looks at the folder without decoding anything, so a wrong folder is
reported in a second, before TensorFlow loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from edgebench.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ImageFiles:
    """The image files of one split, with their labels, not yet decoded."""

    files: tuple[Path, ...]
    labels: np.ndarray  # int64 (N,)
    classes: tuple[str, ...]


def is_image_folder(path: Path) -> bool:
    """A folder with train/ and test/ subfolders is an image folder (not a folder of IDX)."""
    return all((Path(path) / s).is_dir() for s in SPLITS)


def list_split(split_dir: Path, classes: Sequence[str] | None = None) -> ImageFiles:
    """The class folders of one split and their image files, checked; nothing is decoded."""
    if not split_dir.is_dir():
        raise DatasetError(
            f"{split_dir} is not a folder; an image dataset needs ROOT/train/<class>/<images> "
            "and ROOT/test/<class>/<images>"
        )
    folders = sorted(
        p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    found = tuple(p.name for p in folders)
    if len(folders) < 2:
        raise DatasetError(
            f"{split_dir} has {len(folders)} class folder{'' if len(folders) == 1 else 's'}; "
            "an image folder needs one subfolder per class, at least two "
            "(ROOT/train/cat/…, ROOT/train/dog/…)"
        )
    if classes is not None and found != tuple(classes):
        raise DatasetError(
            f"{split_dir} has classes {list(found)}, but train has {list(classes)}; both "
            "splits need the same class folders"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(folders):
        images = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not images:
            raise DatasetError(
                f"class folder {folder} has no images (JPEG or PNG); add images or remove "
                "the folder"
            )
        files.extend(images)
        labels.extend([label] * len(images))
    return ImageFiles(tuple(files), np.asarray(labels, dtype=np.int64), found)


def check_image_folder(root: Path) -> tuple[ImageFiles, ImageFiles]:
    """Both splits of an image folder, listed and checked (no decoding)."""
    root = Path(root)
    train = list_split(root / "train")
    test = list_split(root / "test", train.classes)
    return train, test


def decode(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image as uint8 (H, W, C), resized bilinearly when its size differs.

    An image Pillow cannot read is a DatasetError that names the file.
    """
    mode = "RGB" if channels == 3 else "L"
    height, width = size
    try:
        with Image.open(path) as opened:
            opened.draft(mode, (width, height))  # JPEG: decode at a reduced scale when larger
            img = opened.convert(mode)
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}; delete or replace it") from None
    return arr if arr.ndim == 3 else arr[:, :, None]


def decode_all(
    files: Sequence[Path], size: tuple[int, int], channels: int
) -> np.ndarray:
    """Decode ``files`` into one preallocated uint8 array (N, H, W, channels)."""
    x = np.empty((len(files), size[0], size[1], channels), np.uint8)
    for i, path in enumerate(files):
        x[i] = decode(path, size, channels)
    return x
