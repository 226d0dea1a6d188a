"""Per-invoke instruction counts under valgrind: a deterministic figure for noisy machines.

Each model is run twice under ``valgrind --tool=cachegrind --cache-sim=no`` (instructions
only, no cache model): once invoking it :data:`INVOKES` times, once invoking it once. The
difference over ``INVOKES - 1`` is what one invoke costs, with Python's start, the imports and
the model's loading and first invoke cancelled out.

What made the counts repeat (measured on the development VM, 5-layer 8-channel conv stack,
11 invokes, two runs each): numpy's OpenBLAS threads spin for as long as the process lives, so
their instructions follow the machine's load (120 k apart; ``OPENBLAS_NUM_THREADS=1``); with
that, Python's method cache and dicts hash by address (136 k apart; ``setarch -R`` turns off
address randomisation: 2.7 k apart, which ``INVOKES - 1`` divides to ~50 of millions). Last,
the invoke's own count moved with the length of the model's path and of the environment
(0.2-0.7% of a 330 k-instruction invoke): they shift the stack, and XNNPACK's copies take other
paths for other alignments; so every process runs with the same argv and an empty environment,
and the runner and the models are pushed once a job (one runner file name for every count).

Local and SSH targets: a phone has no Python for the runner (and no valgrind).
"""

from __future__ import annotations

import posixpath
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.judgement.ab_result import AbPair, PairResult, pair_files
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.ab_stats import exact_decision
from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.bench.orchestration.flows.runner_flow import device_python
from edgebench.deploy import Target, target_scheme
from edgebench.errors import EdgebenchError

INVOKES = 51
#: the environment that makes the counts repeat (see the module's docstring)
QUIET_ENV = ("PYTHONHASHSEED=0", "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1")
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no",
            "--cachegrind-out-file=/dev/null")
INSTALL = "apt-get install valgrind"
COUNTED = "counted.tflite"  # the one name every counted model has
_IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")


class InstructionsError(EdgebenchError):
    """Instructions cannot be counted where asked."""


def refuse_adb(address: str) -> None:
    """``--measure instructions`` on an adb target is refused before anything runs."""
    if target_scheme(address) == "adb":
        raise InstructionsError(
            f"--measure instructions needs valgrind and edgebench's runner, which {address} "
            "(adb) cannot run; use --measure time there, or count on a local or ssh target")


def check_instructions(target: Target) -> None:
    """Refuse ``--measure instructions`` where valgrind is missing (or on an adb target)."""
    refuse_adb(target.address)
    if target_scheme(target.address) == "local":
        if shutil.which("valgrind") is None:
            raise InstructionsError(
                f"--measure instructions needs valgrind, which is not installed here; "
                f"{INSTALL} (or use --measure time)")
        return
    if target.run(["sh", "-c", "command -v valgrind"], timeout_s=60).returncode != 0:
        raise InstructionsError(
            f"--measure instructions needs valgrind on {target.address}, which is not "
            f"installed there; {INSTALL} on the device (or use --measure time)")


def count_argv(python: str, runner: str, model: str, invokes: int, s: AbSettings,
               setarch: bool) -> list[str]:
    """The command that counts one process's instructions: ``invokes`` invokes of ``model``.

    Run in the target's work folder, where ``runner`` is; the model is linked to one fixed
    name and the environment is emptied, so every model's process has the same arguments and
    environment to the byte (their lengths move the stack, and with it the invoke's count).
    """
    quiet = " ".join(QUIET_ENV)
    tool = " ".join(VALGRIND)
    flags = f"--invokes {invokes} --threads {s.threads}" + ("" if s.xnnpack else " --no-xnnpack")
    prefix = "setarch -R " if setarch else ""
    script = (f'ln -sf -- "$1" {COUNTED} && {prefix}env -i PATH="$PATH" {quiet} {tool} '
              f'"$2" "$3" count --model {COUNTED} {flags}')
    return ["sh", "-c", script, "sh", model, python, posixpath.basename(runner)]


def parse_irefs(stderr: str) -> int | None:
    """The total instruction count valgrind prints (``==pid== I   refs:  41,912,345``)."""
    found = _IREFS.findall(stderr)
    return int(found[-1].replace(",", "")) if found else None


def _count(target: Target, python: str, runner: str, model: str, invokes: int,
           s: AbSettings, setarch: bool) -> tuple[int, float]:
    res = target.run(count_argv(python, runner, model, invokes, s, setarch),
                     timeout_s=max(s.timeout_s, 600.0))
    irefs = parse_irefs(res.stderr)
    if res.returncode != 0 or irefs is None:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise InstructionsError(f"{model} fails to load or count under valgrind on "
                                f"{target.address} ({tail}); check the model with --measure time")
    return irefs, res.seconds


class Counter:
    """Counts on one target for a whole job: the runner and every model pushed once, so every
    counted process runs the same runner file name; each model counted once however many
    pairs it is in."""

    def __init__(self, target: Target, pairs: Sequence[AbPair], s: AbSettings) -> None:
        self.target, self.s = target, s
        self.python = device_python(target)
        runner_path = runner_archive()
        self.remote = target.push([runner_path, *pair_files(pairs)])
        self.runner = self.remote[runner_path]
        self.setarch = target.run(["sh", "-c", "command -v setarch"], timeout_s=60).returncode == 0
        self.counted: dict[Path, tuple[float, float]] = {}

    def per_invoke(self, model: Path) -> tuple[float, float]:
        """Instructions of one invoke of ``model`` and the wall seconds counting took."""
        if model not in self.counted:
            remote = self.remote[model]
            many, t1 = _count(self.target, self.python, self.runner, remote, INVOKES, self.s,
                              self.setarch)
            one, t2 = _count(self.target, self.python, self.runner, remote, 1, self.s,
                             self.setarch)
            self.counted[model] = ((many - one) / (INVOKES - 1), t1 + t2)
        return self.counted[model]

    def pair(self, pair: AbPair) -> PairResult:
        """The instruction ratio of one pair: exact, so one count a side decides it."""
        (base, w1), (cur, w2) = self.per_invoke(pair.base), self.per_invoke(pair.current)
        s = self.s
        if base <= 0:
            return PairResult(pair, "instructions", Verdict.INCONCLUSIVE, None, None, 1,
                              round(w1 + w2, 2), s.band, base, cur, "instructions",
                              note="the base model's invokes counted no instructions")
        d = exact_decision(base, cur, s.band)
        assert d.verdict is not None
        return PairResult(pair, "instructions", d.verdict, d.ratio, d.ci, 1,
                          round(w1 + w2, 2), s.band, round(base), round(cur), "instructions")
