"""Multi-fidelity Optuna search: trials report validation accuracy per epoch, a pruner stops
the hopeless ones.

Optuna's pruners (``HyperbandPruner``, ``SuccessiveHalvingPruner``) compare one value per
trial and step, so a study with ``sweep.pruner`` set is single-objective. Its value keeps the
sweep's goal, the smallest variant at the floor, in one number (:func:`score`): a trial at or
above the floor scores the compression it buys (``log2`` of it, >= 0), one below it the points
it is short (< 0). Any trial that meets the floor outranks any that does not, and among those
below it the furthest short are the hopeless ones a pruner stops first.

The pruned stage's fine-tune is what reports (one step per epoch, Keras's validation accuracy
of the float model on the validation split): it is most of a trial's time. Reports go through
a journal file beside the study, so worker processes report and ask :func:`should_stop` in
the study the driver created.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebench.build._tf import import_tf


@dataclass(frozen=True)
class Fidelity:
    """Where a worker reports a pruned stage's epochs: the study and its trials."""

    journal: str  # the study's JournalFileBackend file
    study: str
    trial_ids: tuple[tuple[str, int], ...]  # (trial spec id, Optuna trial id) of a batch
    floor: float
    pruner: str
    min_epochs: int
    max_epochs: int
    reduction_factor: int


def score(accuracy: float, floor: float, kept_fraction: float) -> float:
    """The study's value: log2 of the compression when ``accuracy`` meets ``floor``, else
    the points it is short, negative. ``kept_fraction`` is the share of size kept: of the
    weights while pruning, of a fixed 1 MB at the end (zipped bytes / 1e6)."""
    if accuracy >= floor:
        return math.log2(1.0 / max(kept_fraction, 1e-9))
    return (accuracy - floor) * 100.0


def make_pruner(pruner: str, min_epochs: int, max_epochs: int, reduction_factor: int) -> Any:
    """Optuna's pruner for ``sweep.pruner``."""
    import optuna  # optional (the [sweep] extra), and slow to import: only for search = optuna

    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=min_epochs, max_resource=max_epochs, reduction_factor=reduction_factor
        )
    if pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_epochs, reduction_factor=reduction_factor
        )
    return optuna.pruners.NopPruner()


def storage(journal: str | Path) -> Any:
    """The journal storage every process of one sweep shares."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))


class Stopped(Exception):  # noqa: N818 - a signal, not an error
    """Raised out of a pruned stage's fit when the pruner stops its trials at ``epoch``."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"stopped by the pruner after epoch {epoch}")
        self.epoch = epoch


class EpochReporter:
    """Records each epoch's validation accuracy of a pruned stage and, in a multi-fidelity
    search, reports it to the Optuna trials of ``spec_ids``."""

    def __init__(
        self, fidelity: Fidelity | None, spec_ids: list[str], kept_fraction: float
    ) -> None:
        self.fidelity = fidelity
        self.kept_fraction = kept_fraction
        self.history: list[float] = []
        self.trials: list[Any] = []
        if fidelity is None:
            return
        import optuna

        f = fidelity
        study = optuna.load_study(
            study_name=f.study,
            storage=storage(f.journal),
            pruner=make_pruner(f.pruner, f.min_epochs, f.max_epochs, f.reduction_factor),
        )
        ids = dict(f.trial_ids)
        self.trials = [optuna.trial.Trial(study, ids[s]) for s in spec_ids if s in ids]

    def report(self, epoch: int, accuracy: float, ask: bool = True) -> None:
        """Report epoch ``epoch`` (1-based); raise :class:`Stopped` when the pruner stops the
        first trial there (``ask = False``: a replay from the cache, never stopped)."""
        self.history.append(round(accuracy, 5))
        if self.fidelity is None or not self.trials:
            return
        value = score(accuracy, self.fidelity.floor, self.kept_fraction)
        for t in self.trials:
            t.report(value, epoch)
        if ask and self.trials[0].should_prune():
            raise Stopped(epoch)

    def keras_callback(self) -> Any:
        """A Keras callback that reports at every epoch's end."""
        _, keras, _ = import_tf()
        callback_base: Any = keras.callbacks.Callback  # declared Any: mypy takes it as a base
        reporter = self

        class Report(callback_base):
            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                # Steps count every epoch of the stage (a recipe may fit several times).
                step = len(reporter.history) + 1
                reporter.report(step, float((logs or {}).get("val_accuracy", 0.0)))

        return Report()
