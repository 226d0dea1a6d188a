"""Settings written as text: the argparse ``type=`` converters that say what is allowed.

Each converter takes what a user typed and returns the value, or raises
:class:`argparse.ArgumentTypeError` with a message that names the form ("expected thread
counts >= 1 separated by commas, such as 1,2,4"). The declarations of settings
(:mod:`edgebench.declare`) name them, so a value is checked where it enters.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from pathlib import Path

from edgebench.errors import EdgebenchError


def number(kind: type, low: float, strict: bool) -> Callable[[str], float]:
    """An argparse type: a ``kind`` (int or float) above ``low`` (``strict``) or at least it."""
    words = {int: "a whole number", float: "a number"}[kind]
    bound = f"{'>' if strict else '>='} {low:g}"

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words} {bound}; got {text!r}") from None
        if not (value > low if strict else value >= low):
            raise argparse.ArgumentTypeError(f"expected {words} {bound}; got {value}")
        return value

    convert.__name__ = kind.__name__  # what a reference of the options calls its type
    return convert


positive_int = number(int, 1, strict=False)
positive_float = number(float, 0, strict=True)


def cpu_mask(text: str) -> str:
    """A taskset CPU mask in hex, e.g. f0 (the big cores of many 4+4 phones)."""
    t = text.lower().removeprefix("0x")
    if not t or any(c not in "0123456789abcdef" for c in t) or int(t, 16) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a hex CPU mask such as f0 or 0x0f; got {text!r}"
        )
    return t


def cpu_pin(text: str) -> str:
    """``--cpu-pin 2,3`` or ``0-3`` (CPU numbers, as taskset -c takes them) or a hex mask
    ``0xf0``; returns the hex mask that taskset gets on every device."""
    t = text.strip().lower()
    if t.startswith("0x"):
        return cpu_mask(t)
    mask = 0
    for part in t.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()) or (dash and int(hi) < int(lo)):
            raise argparse.ArgumentTypeError(
                f"expected CPU numbers such as 2,3 or 0-3 (or a hex mask such as 0xf0); "
                f"got {text!r}"
            )
        for cpu in range(int(lo), int(hi if dash else lo) + 1):
            mask |= 1 << cpu
    return f"{mask:x}"


def thread_counts(text: str) -> tuple[int, ...]:
    """``--threads 1,2,4``: every count is its own record (a matrix with --xnnpack)."""
    counts = []
    for word in text.split(","):
        word = word.strip()
        if not word.isdigit() or int(word) < 1:
            raise argparse.ArgumentTypeError(
                f"expected thread counts >= 1 separated by commas, such as 1,2,4; got {text!r} "
                f"({word!r} is not one)"
            )
        counts.append(int(word))
    return tuple(dict.fromkeys(counts))


def xnnpack_modes(text: str) -> tuple[bool, ...]:
    """``--xnnpack on,off``: with and without the XNNPACK delegate, each its own record."""
    words = {"on": True, "off": False, "true": True, "false": False}
    modes = []
    for word in text.lower().split(","):
        if word.strip() not in words:
            raise argparse.ArgumentTypeError(f"expected on, off or on,off; got {text!r}")
        modes.append(words[word.strip()])
    return tuple(dict.fromkeys(modes))


def on_off(text: str) -> bool:
    """``on`` or ``off`` (one mode, where ``--xnnpack`` of bench takes a list)."""
    modes = xnnpack_modes(text)
    if len(modes) != 1:
        raise argparse.ArgumentTypeError(f"expected on or off; got {text!r}")
    return modes[0]


def parse_delegate(spec: str) -> tuple[str, dict[str, str]]:
    """``PATH.so[:key=value,...]`` -> (PATH, {key: value}); a message naming the form else."""
    path, _, opts = spec.partition(":")
    options: dict[str, str] = {}
    for pair in filter(None, opts.split(",")):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise EdgebenchError(
                f"--delegate {spec!r}: {pair!r} is not key=value; write "
                "PATH.so[:key=value,...], e.g. libedgetpu.so.1:device=usb"
            )
        options[key.strip()] = value.strip()
    if not path.strip():
        raise EdgebenchError(f"--delegate {spec!r} names no library; write PATH.so[:key=value,...]")
    return path.strip(), options


def delegate_spec(text: str) -> str:
    """``--delegate PATH.so[:key=value,...]``, checked for its form here."""
    try:
        parse_delegate(text)
    except EdgebenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


#: benchmark_model flags edgebench sets itself, and the option that sets each (for
#: --benchmark-flag, which passes any other flag as it is).
OWN_FLAGS = {"graph": "the model inputs", "num_threads": "--threads",
             "use_xnnpack": "--xnnpack", "warmup_runs": "--warmup", "num_runs": "--runs",
             "min_secs": "--runs", "max_secs": "--timeout-s", "warmup_min_secs": "--warmup",
             "report_peak_memory_footprint": "nothing (always on)", "use_gpu": "--use-gpu",
             "use_nnapi": "--use-nnapi", "enable_op_profiling": "--op-profile"}


def benchmark_flag(text: str) -> str:
    """One more benchmark_model flag, passed as it is: ``--benchmark-flag=--gpu_backend=cl``."""
    m = re.fullmatch(r"--([A-Za-z0-9_]+)(=.*)?", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"expected one benchmark_model flag such as --gpu_backend=cl (write "
            f"--benchmark-flag=--name=value); got {text!r}"
        )
    if m.group(1) in OWN_FLAGS:
        raise argparse.ArgumentTypeError(
            f"--{m.group(1)} is set by edgebench; use {OWN_FLAGS[m.group(1)]} instead"
        )
    return text


#: The energy meters ``--power`` takes; the runner's own list (bench/device/runner/power.py,
#: which imports nothing of edgebench) is held equal to this one by a test.
POWER_METERS = ("rapl", "pi5-pmic", "hwmon:NAME", "android", "cmd:PROGRAM")


def meter_problem(text: str) -> str | None:
    """What is wrong with a ``--power`` value, or None when it names a meter."""
    if text in ("rapl", "pi5-pmic", "android"):
        return None
    for prefix, what in (("hwmon:", "a sensor's name, e.g. hwmon:ina226"),
                         ("cmd:", "a program, e.g. 'cmd:./read-meter.sh'")):
        if text.startswith(prefix):
            return None if text[len(prefix):].strip() else f"{prefix} needs {what}"
    return f"unknown meter {text!r}; use one of: {', '.join(POWER_METERS)}"


def power_meter(text: str) -> str:
    """``--power METER``: rapl, pi5-pmic, hwmon:NAME, android or cmd:PROGRAM."""
    problem = meter_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def host_path(text: str) -> str:
    """A file on this machine, as given (relative to the working folder)."""
    return str(Path(text))


def target_address(text: str) -> str:
    """``local``, ``ssh://[user@]host[:port]`` or ``adb://SERIAL``."""
    if text == "local" or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a target; use local, ssh://[user@]host[:port] or adb://SERIAL"
    )


def fraction(text: str) -> float:
    """A share written as a percentage ("10%") or a fraction ("0.1")."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a percentage such as 10% or a fraction such as 0.1; got {text!r}"
        ) from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a share between 0% and 1000%; got {text!r}")
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1, e.g. 0.01."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), e.g. 0.01; got {value}")
    return value


def output_file(text: str) -> Path:
    """A file to write: not a folder (its parent folder is made when missing)."""
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a folder; name a file in it, e.g. {Path(text) / 'results.json'}"
        )
    return path
