"""Write Fashion-MNIST as an image folder: ROOT/{train,test}/<label>_<name>/<index>.png.

    python -m edgebench.models.examples.fashion_images ROOT [--size 96]
        [--train-per-class 200] [--test-per-class 50] [--format png|jpg]
        [--source /usr/share/datasets/fashion-mnist]

Each 28x28 grey image becomes an RGB image of --size x --size (bilinear), the way a folder of
a user's photos looks. Class folders are named ``<label>_<name>`` so that their sorted names
keep Fashion-MNIST's label order (``0_tshirt`` … ``9_ankle_boot``). The first images of each
class are taken, in the order of the source set. numpy and Pillow only.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "ankle_boot")
SOURCE = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def read_idx(path: Path) -> np.ndarray:
    """An MNIST-format IDX file of unsigned bytes (gzipped or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _idx(source: Path, stem: str) -> Path:
    for name in (f"{stem}-ubyte.gz", f"{stem}-ubyte"):
        if (source / name).is_file():
            return source / name
    raise SystemExit(f"{source} has no {stem}-ubyte[.gz]; apt-get install dataset-fashion-mnist "
                     "or give --source")


def write_split(x: np.ndarray, y: np.ndarray, out: Path, per_class: int, size: int,
                fmt: str = "png") -> int:
    """Write up to ``per_class`` images of each class under ``out``; return how many."""
    counts = dict.fromkeys(range(len(CLASSES)), 0)
    written = 0
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        label = int(label)
        if counts[label] >= per_class:
            if all(c >= per_class for c in counts.values()):
                break
            continue
        folder = out / f"{label}_{CLASSES[label]}"
        folder.mkdir(parents=True, exist_ok=True)
        rgb = Image.fromarray(img, mode="L").resize((size, size), Image.Resampling.BILINEAR)
        rgb = rgb.convert("RGB")
        if fmt == "png":
            rgb.save(folder / f"{i:05d}.png")
        else:
            rgb.save(folder / f"{i:05d}.jpg", quality=90)
        counts[label] += 1
        written += 1
    return written


def write_image_folder(root: Path, size: int = 96, train_per_class: int = 200,
                       test_per_class: int = 50, fmt: str = "png",
                       source: Path = SOURCE) -> dict[str, int]:
    """Write both splits; return the number of images of each."""
    written = {}
    for split, stem, per_class in (("train", "train", train_per_class),
                                   ("test", "t10k", test_per_class)):
        x = read_idx(_idx(source, f"{stem}-images-idx3"))
        y = read_idx(_idx(source, f"{stem}-labels-idx1"))
        written[split] = write_split(x, y, Path(root) / split, per_class, size, fmt)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the image folder to write")
    ap.add_argument("--size", type=int, default=96, help="image height and width (default 96)")
    ap.add_argument("--train-per-class", type=int, default=200)
    ap.add_argument("--test-per-class", type=int, default=50)
    ap.add_argument("--format", choices=("png", "jpg"), default="png")
    ap.add_argument("--source", type=Path, default=SOURCE,
                    help=f"Fashion-MNIST IDX files (default {SOURCE})")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    n = write_image_folder(a.root, a.size, a.train_per_class, a.test_per_class, a.format,
                           a.source)
    print(f"{n['train']} train and {n['test']} test {a.format} images of {a.size}x{a.size}x3 "
          f"under {a.root} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
