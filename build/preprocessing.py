"""Preprocessing: how each model input's raw samples become the float32 the model takes.

``[data] preprocess`` is one setting for every input, or a table by input name:

- ``unit`` (x/255), ``symmetric`` (x/127.5 - 1, as MobileNet expects), ``imagenet`` (per-channel
  mean and std of ImageNet), ``none`` (the values as float32): these are
  :func:`edgebench.bench.device.runner.preprocess.preprocess`, one function that the host
  (training, calibration, reference outputs) and the runner on the device both call on the same
  stored samples, so the model gets bitwise-identical inputs on both. The eval shards store the
  raw samples and the mode.
- ``"module:function"`` (or ``"file.py:function"`` relative to the config): your own numpy
  function ``f(x) -> array`` over a batch of raw samples. It runs on the host only; the shards
  then store its float32 output with mode ``none``, so the device needs nothing of yours.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.bench.device.runner.errors import ModelError
from edgebench.bench.device.runner.preprocess import PREPROCESS_MODES, preprocess
from edgebench.errors import ConfigError, DatasetError

BUILTIN_MODES = PREPROCESS_MODES
Arrays = dict[str, np.ndarray]


def check_spec(spec: Any) -> None:
    """A config value: a mode, ``module:function``, or a table of those by input name."""
    values = spec.values() if isinstance(spec, dict) else [spec]
    if isinstance(spec, dict) and not spec:
        raise ConfigError("preprocess table is empty; name each model input, or give one mode")
    for v in values:
        if not isinstance(v, str) or not (v in BUILTIN_MODES or _is_function_spec(v)):
            raise ConfigError(
                f"preprocess must be one of {', '.join(BUILTIN_MODES)} or \"module:function\" "
                f"(a table of those by input name for several inputs); got {v!r}"
            )


def _is_function_spec(text: str) -> bool:
    module, _, fn = text.rpartition(":")
    return bool(module) and fn.isidentifier()


@dataclass(frozen=True)
class Preprocessing:
    """The preprocessing of each model input, by name, as the config gave it."""

    modes: dict[str, str]
    base_dir: Path

    def is_builtin(self, name: str) -> bool:
        return self.modes[name] in BUILTIN_MODES

    def prepare(self, raw: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]],
                split: str) -> Arrays:
        """Float32 model inputs of one split, shaped ``(N, *shapes[name])``."""
        out = {}
        for name, x in raw.items():
            mode = self.modes[name]
            if mode in BUILTIN_MODES:
                try:
                    f = preprocess(x, mode)
                except ModelError as exc:
                    raise DatasetError(f"input {name!r}: {exc}") from None
                out[name] = _shaped(f, shapes[name], name, f"preprocess {mode!r}", split)
            else:
                out[name] = _shaped(
                    call_function(mode, self.base_dir, x, name), shapes[name], name,
                    f"preprocess function {mode}", split,
                )
        return out

    def stored(self, raw: Mapping[str, np.ndarray], prepared: Mapping[str, np.ndarray]
               ) -> tuple[Arrays, dict[str, str]]:
        """What the eval shards hold for each input, and the mode the runner applies to it:
        the raw samples and a builtin mode, or a user function's float32 output and ``none``."""
        arrays, modes = {}, {}
        for name in raw:
            if self.is_builtin(name):
                arrays[name], modes[name] = raw[name], self.modes[name]
            else:
                arrays[name], modes[name] = prepared[name], "none"
        return arrays, modes

    def describe(self) -> dict[str, str]:
        return dict(self.modes)


def unit_warnings(prep: Preprocessing, raw: Mapping[str, np.ndarray]) -> list[str]:
    """One line per input that ``unit`` (x/255) would silently rescale wrongly: float data
    already within [0, 1], or data with negatives, is not 0-255 pixels."""
    lines = []
    for name, x in raw.items():
        if prep.modes.get(name) != "unit" or x.size == 0:
            continue
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < 0 or (np.issubdtype(x.dtype, np.floating) and hi <= 1.0):
            lines.append(
                f"warning: input {name!r} holds values in [{lo:g}, {hi:g}], not 0-255 pixels, "
                f"but preprocess = \"unit\" divides them by 255; set [data] preprocess = "
                f"\"none\" if they are already what the model takes"
            )
    return lines


def preprocessing_for(spec: str | Mapping[str, str], input_names: list[str],
                      base_dir: Path) -> Preprocessing:
    """The :class:`Preprocessing` of a model's inputs from the config's ``preprocess``."""
    check_spec(spec)
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in input_names]
        missing = [k for k in input_names if k not in spec]
        if unknown or missing:
            raise ConfigError(
                f"[data] preprocess names inputs {sorted(spec)}, but the model's inputs are "
                f"{input_names}; give one entry per input (or one mode for all)"
            )
        modes = dict(spec)
    else:
        modes = dict.fromkeys(input_names, spec)
    prep = Preprocessing(modes, base_dir)
    for mode in set(modes.values()):
        if mode not in BUILTIN_MODES:
            load_function(mode, base_dir)  # a missing module or name fails before training
    return prep


def load_function(spec: str, base_dir: Path) -> Callable[[np.ndarray], Any]:
    """Import ``module:function`` (a module on the path, or a .py file next to the config)."""
    module_name, _, fn_name = spec.rpartition(":")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise ConfigError(
                    f"[data] preprocess = {spec!r}: {path} does not exist; give a .py file "
                    "relative to the pipeline config, or an importable module"
                )
            unit = importlib.util.spec_from_file_location(f"_edgebench_pre_{path.stem}", path)
            assert unit is not None and unit.loader is not None
            module = importlib.util.module_from_spec(unit)
            sys.modules[unit.name] = module
            unit.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except Exception as exc:  # whatever the user's module raises while importing
        raise ConfigError(
            f"[data] preprocess = {spec!r}: cannot import {module_name} "
            f"({type(exc).__name__}: {_first_line(exc)}); fix the module or the name"
        ) from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise ConfigError(
            f"[data] preprocess = {spec!r}: {module_name} has no function {fn_name}; name a "
            "function f(x) -> array"
        )
    return fn


def call_function(spec: str, base_dir: Path, x: np.ndarray, name: str) -> np.ndarray:
    """Run the user's preprocessing function on a batch; anything it does wrong is one line."""
    fn = load_function(spec, base_dir)
    try:
        out = fn(x)
    except Exception as exc:  # the user's code: report it, don't crash
        raise DatasetError(
            f"preprocess function {spec} raised {type(exc).__name__}: {_first_line(exc)} "
            f"(input {name!r}, a batch of shape {list(x.shape)}, dtype {x.dtype}); fix the "
            "function"
        ) from None
    if not isinstance(out, np.ndarray) or out.dtype.kind not in "biuf":
        raise DatasetError(
            f"preprocess function {spec} returned {type(out).__name__}"
            f"{'' if not isinstance(out, np.ndarray) else ' of ' + str(out.dtype)} for input "
            f"{name!r}; it must return a numeric numpy array with one row per sample"
        )
    if out.ndim == 0 or len(out) != len(x):
        raise DatasetError(
            f"preprocess function {spec} returned shape {list(out.shape)} for {len(x)} samples "
            f"of input {name!r}; it must return one sample per input sample"
        )
    return out.astype(np.float32, copy=False)


def _shaped(f: np.ndarray, shape: tuple[int, ...], name: str, what: str,
            split: str) -> np.ndarray:
    n = len(f)
    if f.ndim == 0 or int(np.prod(f.shape[1:])) != int(np.prod(shape)):
        raise DatasetError(
            f"{what} gives input {name!r} samples of shape {list(f.shape[1:])} ({split} "
            f"split), but the model takes {list(shape)}; it must return one sample per input "
            f"sample, of the model's input shape"
        )
    return np.ascontiguousarray(f.reshape((n, *shape)), dtype=np.float32)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
