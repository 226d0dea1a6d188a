"""How models are asked to be measured: the bench settings, and one cell of their matrix."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from edgebench.declare import Alias, check_values, setting
from edgebench.errors import ConfigError
from edgebench.values import (
    benchmark_flag,
    cpu_mask,
    cpu_pin,
    delegate_spec,
    host_path,
    meter_problem,
    power_meter,
    target_address,
    thread_counts,
    xnnpack_modes,
)


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


DEFAULT_TARGETS = ("local",)
#: Seconds of continuous invokes energy is measured over without --sustained (the runner's
#: ENERGY_S; a test holds them equal).
ENERGY_S = 10.0
HEX_MASK = re.compile(r"(0x)?[0-9a-fA-F]+")


@dataclass(frozen=True)
class BenchSettings:
    """How models were asked to be measured (by the runner, or by benchmark_model).

    ``threads`` and ``xnnpack`` are a matrix: every model is measured once per combination
    (:meth:`setups`), and each combination is its own record. A single int or bool is taken as
    a one-element tuple, so ``BenchSettings(threads=4, xnnpack=False)`` still reads naturally.

    Each field is the ``[bench]`` key of a pipeline TOML and, where it has a flag, an option of
    ``edgebench bench`` and ``edgebench run`` (:mod:`edgebench.declare`).
    """

    toml_section: ClassVar[str] = "bench"

    runs: int = setting(100, help="timed invoke() calls per model", minimum=1, flag="--runs")
    warmup: int = setting(10, help="untimed invoke() calls before timing", minimum=0,
                          flag="--warmup")
    threads: tuple[int, ...] = setting(
        (1,), flag="--threads", parse=thread_counts, metavar="N[,N…]", minimum=1, scalar=True,
        words="a whole number >= 1 or a list of them",
        help="interpreter threads; a list (1,2,4 on the command line, [1, 2, 4] in TOML) "
        "measures every model with each count, each its own record; a count above the "
        "device's cores is measured with a warning",
    )
    xnnpack: tuple[bool, ...] = setting(
        (True,), flag="--xnnpack", parse=xnnpack_modes, metavar="on|off|on,off", scalar=True,
        words="true, false or [true, false]", shown="on",
        help="with the default XNNPACK delegate (on), without it (off), or both (on,off; "
        "[true, false] in TOML): each its own record; with several threads a matrix",
        aliases=(Alias("--no-xnnpack", "the same as --xnnpack off", const=(False,)),),
    )
    timeout_s: float = setting(300.0, help="time limit per model, in its own process, seconds",
                               unit="s", above=0, flag="--timeout-s")
    eval_batch: int = setting(256, minimum=1, help="samples per accuracy batch, where the "
                              "model allows batches")
    eval_limit: int = setting(
        0, minimum=0, flag="--eval-limit", metavar="N",
        help="evaluate on a stratified subset of N test samples (each class in proportion; "
        "evenly spaced without labels; 0 = all); the record says how many and how chosen",
    )
    cooldown_s: float = setting(
        0.0, unit="s", minimum=0, flag="--cooldown-s", metavar="S",
        help="wait S seconds between models so each starts from a cooler chip",
    )
    # Five: on the 2-core development VM one process strays up to 1.55x from the next, a
    # median of five 1.21x (docs/measure_repeats.py; docs/explanation/verdicts.md).
    repeats: int = setting(
        5, minimum=1, flag="--repeats",
        help="measure each model in N separate processes; compare and the report use the "
        "median of the per-process medians, which one slow process cannot move, and need 3 "
        "or more per side for a latency verdict",
    )
    flow: str | None = setting(
        None, flag="--flow", choices=("benchmark_model", "runner"), example="runner",
        help="how models are measured: runner (edgebench's runner.py, where Python runs; the "
        "default for local and ssh://) or benchmark_model (TFLite's tool; the default for "
        "adb://)",
    )
    benchmark_binary: str | None = setting(
        None, flag="--benchmark-binary", parse=host_path, metavar="PATH", relative=True,
        group="benchmark_model", example="benchmark_model",
        help="TFLite's benchmark_model built for the device (bazel build -c opt "
        "--config=android_arm64 //tensorflow/lite/tools/benchmark:benchmark_model); in TOML "
        "relative to the config file",
    )
    taskset: str | None = setting(
        None, flag="--cpu-pin", parse=cpu_pin, metavar="CPUS", example="f0",
        help="pin every measured process to these CPUs with taskset on the device: 2,3 or 0-3 "
        '(or a hex mask, 0xf0; in TOML the hex mask, "f0"); every flow and target',
        aliases=(Alias("--taskset", "the same as --cpu-pin, as a hex mask (f0 = CPUs 4-7)",
                       parse=cpu_mask, metavar="MASK", group="benchmark_model"),),
    )
    delegate: str | None = setting(
        None, flag="--delegate", parse=delegate_spec, metavar="PATH.so[:KEY=VALUE,…]",
        example="libedgetpu.so.1",
        help="run every model through this TFLite delegate (load_delegate), e.g. "
        "libedgetpu.so.1 or /opt/armnn/libarmnnDelegate.so:backends=CpuAcc; a file here is "
        "copied to an SSH device, another path or name is the device's own. A delegate that "
        "does not load, or takes none of a model, fails instead of running on the CPU",
    )
    use_gpu: bool = setting(False, flag="--use-gpu", group="benchmark_model",
                            help="benchmark_model's GPU delegate (--use_gpu=true)")
    use_nnapi: bool = setting(False, flag="--use-nnapi", group="benchmark_model",
                              help="benchmark_model's NNAPI delegate (--use_nnapi=true)")
    benchmark_args: tuple[str, ...] = setting(
        (), flag="--benchmark-flag", parse=benchmark_flag, repeat=True, metavar="=--FLAG=VALUE",
        group="benchmark_model", shown="none",
        help="one more benchmark_model flag, passed as it is; repeatable; write it with '=': "
        "--benchmark-flag=--gpu_backend=cl",
    )
    op_profile: bool = setting(
        False, flag="--op-profile", group="benchmark_model",
        help="benchmark_model's per-operator profile (--enable_op_profiling=true): op type, "
        "count, avg ms and % of total go to the record and the report",
    )
    hot_start_c: float = setting(
        70.0, unit="°C", above=0, flag="--max-start-temp-c", metavar="C",
        help="warn (output and record) when a model starts with the SoC hotter than C °C",
    )
    sustained_s: float | None = setting(
        None, unit="s", above=0, flag="--sustained", metavar="SECONDS", example=20.0,
        help="after the timed runs, invoke each model back to back for SECONDS and keep each "
        "1 s window's median and count with the device's temperature, CPU clock and "
        "throttling flags; sustained.ratio is the last window's median over the first's "
        "(once per model: --repeats time only)",
    )
    power: str | None = setting(
        None, flag="--power", parse=power_meter, metavar="METER", example="rapl",
        help="energy per inference over the continuous run (--sustained, else "
        f"{ENERGY_S:g} s): (energy - idle power x time) / invokes, from rapl (Linux powercap), "
        "pi5-pmic (vcgencmd pmic_read_adc), hwmon:NAME (INA219/226/260), android (the "
        "battery, over adb) or cmd:PROGRAM (prints joules); a meter that is missing or stops "
        "answering stops the target",
    )
    xnnpack_weight_cache: bool = setting(
        False, flag="--xnnpack-weight-cache",
        help="also measure what XNNPACK's weight cache saves of each model's memory (through "
        "ai-edge-litert's CompiledModel, in processes of their own: without a cache and with "
        "a built one); once per model, in the cells with XNNPACK on; the record says why where "
        "the runtime has no weight cache",
    )
    power_idle_s: float = setting(
        2.0, unit="s", above=0, flag="--power-idle-s", metavar="S",
        help="with --power: seconds of idle power measured just before each model's run",
    )

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
        if self.taskset is not None and not HEX_MASK.fullmatch(self.taskset):
            raise ConfigError(
                f"taskset must be a hex CPU mask such as \"f0\"; got {self.taskset!r}"
            )
        if self.power is not None and meter_problem(self.power):
            raise ConfigError(f"power: {meter_problem(self.power)}")
        check_values(self)
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

    @property
    def continuous_s(self) -> float | None:
        """How long each model is invoked continuously: --sustained, else ENERGY_S with
        --power, else None (no continuous run)."""
        if self.sustained_s is not None:
            return self.sustained_s
        return ENERGY_S if self.power else None

    def at(self, setup: Setup) -> BenchSettings:
        """These settings for one cell of the matrix (one thread count, one XNNPACK mode)."""
        return dataclasses.replace(self, threads=(setup.threads,), xnnpack=(setup.xnnpack,))


@dataclass(frozen=True)
class BenchTargets:
    """``[bench] targets``: where the bench stage measures. Not part of
    :class:`BenchSettings`: a results file is one target's."""

    toml_section: ClassVar[str] = "bench"

    targets: tuple[str, ...] = setting(
        DEFAULT_TARGETS, flag="--target", parse=target_address, repeat=True, metavar="T",
        example=["local", "ssh://pi@raspberrypi.local"],
        help="where to run: local, ssh://[user@]host[:port] or adb://SERIAL; repeatable",
    )

    def __post_init__(self) -> None:
        if not self.targets or not all(t.strip() for t in self.targets):
            raise ConfigError('targets must list at least one target, e.g. ["local"]')
