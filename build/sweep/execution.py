"""Where the sweep's tasks run: in this process, on local worker processes, or on Ray.

Trials that share a pruned model are one task (:func:`group_tasks`), so its trials reuse it
and never wait on each other. Workers share the cache folder, so on a multi-machine Ray
cluster the output folder must be on a shared file system.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import multiprocessing
import os
import socket
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from edgebench import errors
from edgebench.build.progress import Progress
from edgebench.build.sweep.trials import TaskJob, TrialResult, TrialSpec
from edgebench.build.sweep.worker import run_task
from edgebench.closing import Closing
from edgebench.errors import EdgebenchError


def group_tasks(job: TaskJob, specs: Iterable[TrialSpec]) -> list[TaskJob]:
    """One task per pruned model (recipe, [sweep.vary] parameters and sparsity), in the order
    the specs first name it."""
    groups: dict[tuple[Any, ...], list[TrialSpec]] = {}
    for s in specs:
        groups.setdefault(s.pruned_model, []).append(s)
    return [dataclasses.replace(job, trials=tuple(g)) for g in groups.values()]


class Runner(Closing, abc.ABC):
    """Runs tasks somewhere and returns their trials in task order; a context manager."""

    def run_trials(self, job: TaskJob, specs: Sequence[TrialSpec]) -> list[TrialResult]:
        """Run ``specs`` as the tasks of ``job``."""
        return self.run_tasks(group_tasks(job, specs)) if specs else []

    @abc.abstractmethod
    def run_tasks(self, tasks: list[TaskJob]) -> list[TrialResult]:
        """Run each task's trials; return the results of all tasks, in task order."""

    def close(self) -> None:  # noqa: B027 - a runner without resources has nothing to close
        """Release workers or the cluster connection."""



class InProcessRunner(Runner):
    """Tasks one after another in this process (``workers = 1``)."""

    def run_tasks(self, tasks: list[TaskJob]) -> list[TrialResult]:
        return [r for t in tasks for r in run_task(t)]


class PoolRunner(Runner):
    """Local worker processes (spawned: TensorFlow does not survive fork)."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def run_tasks(self, tasks: list[TaskJob]) -> list[TrialResult]:
        futures = [self.pool.submit(run_task, t) for t in tasks]
        return [r for f in futures for r in f.result()]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class RayRunner(Runner):
    """Tasks as Ray tasks on the cluster at ``address``; the driver disconnects at the end."""

    def __init__(self, address: str, progress: Progress) -> None:
        try:
            import ray  # optional (the [sweep] extra), and slow to import: only for --ray
        except ImportError:
            raise EdgebenchError(
                "--ray needs Ray: pip install 'edgebench[sweep]'"
            ) from None
        try:
            ray.init(
                address=address,
                runtime_env={"env_vars": ray_worker_env()},
                log_to_driver=True,
                logging_level=logging.WARNING,
            )
        except (ConnectionError, RuntimeError) as exc:
            raise EdgebenchError(
                f"cannot join the Ray cluster at {address} ({exc}); check the address that "
                "`ray start --head` printed, or run without --ray"
            ) from None
        progress(f"ray: connected to {address}, {ray.cluster_resources().get('CPU', 0):g} CPUs")
        self.ray: Any = ray
        self.remote = ray.remote(num_cpus=1)(run_task)

    def run_tasks(self, tasks: list[TaskJob]) -> list[TrialResult]:
        refs = [self.remote.remote(t) for t in tasks]
        try:
            chunks = self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, EdgebenchError):  # bad input found on a worker
                raise exc.cause from None
            raise
        return [r for chunk in chunks for r in chunk]

    def close(self) -> None:
        self.ray.shutdown()


def make_runner(ray_address: str | None, workers: int, progress: Progress) -> Runner:
    """Ray when given an address, else local workers (none beside this process for one)."""
    if ray_address is not None:
        return RayRunner(ray_address, progress)
    if workers == 1:
        return InProcessRunner()
    return PoolRunner(workers)


def package_parent() -> Path:
    """The folder that holds the ``edgebench`` package: what a worker needs on its path.

    Installed, that is site-packages; in a source checkout, the checkout root (where
    ``edgebench/__init__.py`` finds the rooms beside it).
    """
    return Path(errors.__file__).resolve().parent.parent  # edgebench/errors.py: the kernel


def ray_worker_env() -> dict[str, str]:
    """Environment variables for Ray workers: this edgebench first on the path, tf-keras."""
    return {
        "PYTHONPATH": os.pathsep.join([str(package_parent()), os.environ.get("PYTHONPATH", "")]),
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def check_ray_address(address: str) -> None:
    """A Ray address must answer before anything is trained."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EdgebenchError(
            f"--ray {address!r} is not HOST:PORT; give the head node's address, e.g. "
            "127.0.0.1:6379 (what `ray start --head` prints)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as exc:
        raise EdgebenchError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head --port PORT` or run without --ray to use local workers"
        ) from None
