"""Preprocessing on the host: the builtin modes (the runner's own function), a user's
``module:function``, what the eval shards store for each, and every mistake as one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgebench.bench.device.runner.errors import ModelError
from edgebench.bench.device.runner.preprocess import preprocess
from edgebench.build.preprocessing import check_spec, preprocessing_for, unit_warnings
from edgebench.errors import ConfigError, DatasetError

FUNCS = '''
import numpy as np


def halve(x):
    return x.astype(np.float32) / 2


def boom(x):
    raise ValueError("no such calibration table")


def flat(x):
    return x.reshape(len(x), -1)[:, :5].astype(np.float32)


def fewer(x):
    return x[:-1].astype(np.float32)


def text(x):
    return "not an array"
'''


@pytest.fixture
def funcs(tmp_path: Path) -> Path:
    (tmp_path / "my_pre.py").write_text(FUNCS)
    return tmp_path


X = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4) * 7


def test_builtin_modes_are_the_runners_and_the_shards_store_raw_samples(tmp_path: Path) -> None:
    prep = preprocessing_for("symmetric", ["img"], tmp_path)
    x = prep.prepare({"img": X}, {"img": (4, 4, 1)}, "test")["img"]
    assert x.shape == (2, 4, 4, 1) and x.dtype == np.float32
    assert x.tobytes() == preprocess(X, "symmetric").reshape(2, 4, 4, 1).tobytes()
    stored, modes = prep.stored({"img": X}, {"img": x})
    assert stored["img"] is X and modes == {"img": "symmetric"}


def test_imagenet_uses_float32_mean_and_std_per_channel() -> None:
    x = np.full((1, 2, 2, 3), 255, np.uint8)
    out = preprocess(x, "imagenet")
    want = (np.float32(1) - np.float32([0.485, 0.456, 0.406])) / np.float32([0.229, 0.224, 0.225])
    assert out.dtype == np.float32 and np.array_equal(out[0, 0, 0], want)
    with pytest.raises(ModelError, match="needs 3 colour channels"):
        preprocess(np.zeros((1, 2, 2, 1), np.uint8), "imagenet")


def test_a_table_names_each_input(tmp_path: Path) -> None:
    prep = preprocessing_for({"image": "unit", "meta": "none"}, ["image", "meta"], tmp_path)
    assert prep.modes == {"image": "unit", "meta": "none"}
    with pytest.raises(ConfigError, match=r"names inputs \['img', 'meta'\], but the model's "
                                          r"inputs are \['image', 'meta'\]"):
        preprocessing_for({"img": "unit", "meta": "none"}, ["image", "meta"], tmp_path)


def test_a_users_function_runs_on_the_host_and_the_shards_store_its_output(funcs: Path) -> None:
    prep = preprocessing_for("my_pre.py:halve", ["x"], funcs)
    x = prep.prepare({"x": X}, {"x": (16,)}, "train")["x"]
    assert x.shape == (2, 16) and x[1, 0] == X[1, 0, 0] / 2
    stored, modes = prep.stored({"x": X}, {"x": x})
    assert stored["x"] is x and modes == {"x": "none"}  # the device needs nothing of yours


@pytest.mark.parametrize(
    "fn, message",
    [
        ("boom", r"preprocess function my_pre.py:boom raised ValueError: no such calibration "
                 r"table \(input 'x', a batch of shape \[2, 4, 4\], dtype uint8\); fix"),
        ("flat", r"gives input 'x' samples of shape \[5\] \(train split\), but the model "
                 r"takes \[4, 4, 1\]"),
        ("fewer", r"returned shape \[1, 4, 4\] for 2 samples of input 'x'; it must return one "
                  r"sample per input sample"),
        ("text", r"returned str for input 'x'; it must return a numeric numpy array"),
    ],
)
def test_a_function_that_raises_or_returns_the_wrong_shape_is_one_line(
    funcs: Path, fn: str, message: str
) -> None:
    prep = preprocessing_for(f"my_pre.py:{fn}", ["x"], funcs)
    with pytest.raises(DatasetError, match=message):
        prep.prepare({"x": X}, {"x": (4, 4, 1)}, "train")


def test_a_missing_module_or_function_is_refused_before_any_work(funcs: Path) -> None:
    with pytest.raises(ConfigError, match="nope.py does not exist"):
        preprocessing_for("nope.py:f", ["x"], funcs)
    with pytest.raises(ConfigError, match="has no function missing"):
        preprocessing_for("my_pre.py:missing", ["x"], funcs)
    with pytest.raises(ConfigError, match="cannot import no_such_module_here"):
        preprocessing_for("no_such_module_here:f", ["x"], funcs)


@pytest.mark.parametrize("value", ["scale", 3, {"x": "unit", "y": "zscore"}, {}])
def test_bad_preprocess_values_say_what_is_allowed(value: object) -> None:
    with pytest.raises(ConfigError, match="preprocess"):
        check_spec(value)


@pytest.mark.parametrize(
    "fn, fragments",
    [
        ("boom", ("preprocess function my_pre.py:boom raised ValueError", "fix the function")),
        ("flat", ("preprocess function my_pre.py:flat gives input", "samples of shape [5]",
                  "but the model takes [28, 28]", "it must return one sample per input sample")),
    ],
)
def test_a_preprocess_function_that_raises_or_returns_the_wrong_shape_stops_the_build(
    cli, funcs: Path, fn: str, fragments: tuple[str, ...]
) -> None:
    rng = np.random.default_rng(0)
    np.savez(funcs / "d.npz", x_train=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 20), x_test=rng.integers(0, 255, (8, 28, 28),
                                                                   dtype=np.uint8),
             y_test=np.arange(8))
    config = funcs / "p.toml"
    config.write_text('schema_version = 1\n[data]\ndataset = "d.npz"\n'
                      f'preprocess = "my_pre.py:{fn}"\n')
    earlier = funcs / "out" / "earlier" / "manifest.json"  # a run made before: kept
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    run = cli("build", "--config", config, "--out", funcs / "out", "--run", "r")
    run.error_line(*fragments)
    assert not (funcs / "out" / "r").exists()
    assert sorted(p.name for p in (funcs / "out").iterdir()) == ["earlier"]
    assert earlier.read_text() == "{}"


@pytest.mark.parametrize(
    "x, warned",
    [
        (np.array([[0, 128, 255]], dtype=np.uint8), False),  # pixels: what unit is for
        (np.array([[0.0, 17.0, 255.0]], dtype=np.float32), False),  # float pixels
        (np.array([[0.0, 0.5, 1.0]], dtype=np.float32), True),  # already in [0, 1]
        (np.array([[-3, 0, 200]], dtype=np.int16), True),  # negatives are not pixels
    ],
)
def test_unit_warns_in_one_line_when_the_data_is_not_pixels(x, warned, tmp_path: Path) -> None:
    prep = preprocessing_for("unit", ["image"], tmp_path)
    lines = unit_warnings(prep, {"image": x})
    assert len(lines) == int(warned)
    if warned:
        assert 'preprocess = "none"' in lines[0] and "'image'" in lines[0]
        assert "\n" not in lines[0]
    assert unit_warnings(preprocessing_for("none", ["image"], tmp_path), {"image": x}) == []
