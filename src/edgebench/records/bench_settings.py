"""How models are asked to be measured: the bench settings, and one cell of their matrix."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from edgebench.errors import ConfigError


@dataclass(frozen=True)
class Setup:
    """How one record was asked to be measured: one cell of the ``--threads`` x ``--xnnpack``
    matrix, with the bench's delegate and CPU pin. Part of every record's key
    (:func:`record_key`), so records measured differently are never compared as the same.
    """

    threads: int
    xnnpack: bool
    delegate: str | None = None  # "gpu", "nnapi", or a delegate library's file name
    cpus: str | None = None  # the CPU pin, as a hex taskset mask

    def label(self) -> str:
        """``threads=1,xnnpack=on`` or ``threads=4,xnnpack=off,delegate=gpu,cpus=4-7``: no
        spaces, so a key stays one word for ``awk`` and ``grep``."""
        parts = [f"threads={self.threads}", f"xnnpack={'on' if self.xnnpack else 'off'}"]
        if self.delegate:
            parts.append(f"delegate={self.delegate}")
        if self.cpus:
            parts.append(f"cpus={cpu_list(self.cpus).replace(',', '+')}")
        return ",".join(parts)


def cpu_list(mask: str) -> str:
    """A hex CPU mask as the CPU numbers it holds: ``f0`` -> ``4-7``, ``5`` -> ``0,2``."""
    bits = int(mask, 16)
    cpus = [i for i in range(bits.bit_length()) if bits >> i & 1]
    runs: list[list[int]] = []
    for c in cpus:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


@dataclass(frozen=True)
class BenchSettings:
    """How models were asked to be measured (by the runner, or by benchmark_model).

    ``threads`` and ``xnnpack`` are a matrix: every model is measured once per combination
    (:meth:`setups`), and each combination is its own record. A single int or bool is taken as
    a one-element tuple, so ``BenchSettings(threads=4, xnnpack=False)`` still reads naturally.
    """

    runs: int = 100
    warmup: int = 10
    threads: tuple[int, ...] = (1,)
    xnnpack: tuple[bool, ...] = (True,)
    timeout_s: float = 300.0
    eval_batch: int = 256
    eval_limit: int = 0  # 0 = the whole test set
    cooldown_s: float = 0.0  # pause between models, so each starts from a cooler SoC
    # Processes per model; latency compares the median of their medians. Five: on the 2-core
    # development VM one process strays up to 1.55x from the next, a median of five 1.21x
    # (docs/measure_repeats.py; README, "When is a change real?").
    repeats: int = 5
    # How models are measured: "runner" or "benchmark_model"; None = the target kind's default.
    flow: str | None = None
    benchmark_binary: str | None = None  # the benchmark_model flow's binary (host path)
    # Hex CPU mask every measured process is pinned to (taskset), on every flow; None = no pin.
    taskset: str | None = None
    # A TFLite delegate for the runner flow, "PATH.so[:key=value,...]", through load_delegate.
    delegate: str | None = None
    use_gpu: bool = False  # benchmark_model: --use_gpu=true
    use_nnapi: bool = False  # benchmark_model: --use_nnapi=true
    benchmark_args: tuple[str, ...] = ()  # benchmark_model: more flags, passed as they are
    op_profile: bool = False  # benchmark_model: per-operator profile (--enable_op_profiling)
    # A model that starts with the SoC hotter than this gets a warning in its record.
    hot_start_c: float = 70.0

    def __post_init__(self) -> None:
        threads = (self.threads,) if isinstance(self.threads, int) else tuple(self.threads)
        xnnpack = (self.xnnpack,) if isinstance(self.xnnpack, bool) else tuple(self.xnnpack)
        if not threads or any(isinstance(t, bool) or not isinstance(t, int) or t < 1
                              for t in threads):
            raise ConfigError(f"threads must be whole numbers >= 1, e.g. (1, 2, 4); got {threads}")
        if not xnnpack or any(not isinstance(x, bool) for x in xnnpack):
            raise ConfigError(f"xnnpack must be true, false or both ([true, false]); got {xnnpack}")
        if self.use_gpu and self.use_nnapi:
            raise ConfigError("use_gpu and use_nnapi each pick the delegate; pick one of them")
        if self.delegate and (self.use_gpu or self.use_nnapi):
            raise ConfigError("delegate (a delegate library for the runner) and use_gpu/use_nnapi "
                              "(benchmark_model's delegates) exclude each other; pick one")
        object.__setattr__(self, "threads", tuple(dict.fromkeys(threads)))
        object.__setattr__(self, "xnnpack", tuple(dict.fromkeys(xnnpack)))
        object.__setattr__(self, "benchmark_args", tuple(self.benchmark_args))

    def setups(self) -> list[Setup]:
        """Every combination of the matrix, threads first: (1, on), (1, off), (2, on) ..."""
        return [Setup(t, x, self.delegate_name, self.taskset)
                for t in self.threads for x in self.xnnpack]

    @property
    def delegate_name(self) -> str | None:
        """What the records' keys call the delegate: gpu, nnapi, or the library's file name."""
        if self.use_gpu:
            return "gpu"
        if self.use_nnapi:
            return "nnapi"
        if self.delegate:
            return Path(self.delegate.split(":", 1)[0]).name
        return None

    def at(self, setup: Setup) -> BenchSettings:
        """These settings for one cell of the matrix (one thread count, one XNNPACK mode)."""
        return dataclasses.replace(self, threads=(setup.threads,), xnnpack=(setup.xnnpack,))
