"""Compare two runs of the same target on the same device: what changed, and is it real?

Zip bytes and accuracy are compared exactly (deltas). Latency is compared on the raw samples: a
two-sided Mann-Whitney U test says whether the two distributions differ at all, and a minimum
effect size on the ratio of medians says whether the difference is big enough to matter. Both
must agree before a variant is called ``faster`` or ``slower``: with a hundred samples or more
the test alone flags shifts of a few percent that the next run does not repeat. Peak memory has
one number per run, so its verdict is the ratio against its own minimum effect.

Runs from different targets or devices are never compared: :func:`check_comparable` raises,
also when one side's CPU was emulated (qemu-user) and the other's was not. Records are matched
by their key (:func:`~edgebench.records.record_key`: variant plus threads, XNNPACK, delegate and
CPU pin), so cells of a threads x XNNPACK matrix are compared only with the same cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from edgebench.bench.judgement.evidence import (
    UNLEARNT_DRIFT_FLOOR,
    DeviceSpread,
    bootstrap_ratio_ci,
    learn_spread,
)
from edgebench.bench.judgement.history import (
    History,
    HistoryError,
    describe_device,
    device_key,
    open_history,
)
from edgebench.errors import EdgebenchError
from edgebench.records import Record, Results, format_snr, worst_fidelity

MIN_SAMPLES = 5  # fewer raw samples than this on either side: no latency verdict


class CompareError(EdgebenchError):
    """Two runs that must not be compared, or a run that cannot be found."""


class NothingToCompare(CompareError):
    """The latest run is the first of its target and device: nothing to compare it with yet
    (a nightly job's first night). ``edgebench compare`` says so and exits 0."""


class Verdict(StrEnum):
    """What a comparison concluded for one metric of one variant."""

    FASTER = "faster"
    SLOWER = "slower"
    SMALLER = "smaller"  # peak memory went down
    LARGER = "larger"  # peak memory went up
    SAME = "same"
    # latency moved by more than the effect floor, but the evidence cannot tell it from noise:
    # one process per side and no learnt spread that the change is beyond, or not significant
    INCONCLUSIVE = "inconclusive"
    NA = "n/a"


class Regression(StrEnum):
    """One way a variant can be worse than in the run before."""

    LATENCY = "latency"  # the latency verdict is slower
    ZIP = "zip"  # zip bytes grew by any amount
    ACCURACY = "accuracy"  # accuracy fell by any amount
    MEMORY = "memory"  # the peak-memory verdict is larger
    FAILED = "failed"  # ran in the base run, failed in the current one
    FIDELITY = "fidelity"  # the worst output's SNR or top-1 agreement fell


#: Output fidelity is deterministic for one model, data and runtime (the same outputs every
#: run: benched twice, the SNR of every variant agreed to the last of the 3 decimals kept), so
#: any fall beyond that rounding is a change in the model or the runtime.
SNR_TOLERANCE_DB = 0.01


@dataclass(frozen=True)
class CompareSettings:
    """How sure and how big a latency or memory change must be before it is called one.

    The defaults come from benching the same models again and again on the 2-core development
    VM (about 225 runner processes of the tiny guide-model variants, 100-3000 samples each,
    at load averages from 0.1 to 10):

    - the Mann-Whitney U test alone gave p < 0.01 for 44-59% of same-vs-same run pairs;
    - most pairs kept their median ratio within 0.89-1.12, but about 5% of processes ran
      in a slow state for their whole life, 1.2-1.6x the usual median (quiet machine too,
      with address randomisation off as well): a property of the shared host, not of the
      model, and no statistic inside one process can tell it from a regression;
    - peak RSS stayed within 0.5%.

    So a latency verdict needs evidence from several processes: with fewer than
    :data:`MIN_PROCESSES` per side it is ``inconclusive`` unless the change is beyond the
    device's learnt spread (:mod:`edgebench.bench.judgement.evidence`); with more, the median of
    per-process medians must move by the floor (learnt, else 25%) with a bootstrap interval
    over processes that excludes 1. ``min_effect`` raises the floor of repeated comparisons;
    gate rules carry their own limit, never below the device's floor.
    """

    alpha: float = 0.01  # Mann-Whitney U p-value below which the distributions differ
    # latency: median ratio >= 1 + this, or <= 1 / (1 + this); None = the learnt floor, else
    # REPEATED_MIN_EFFECT (see latency_floor)
    min_effect: float | None = None
    min_memory_effect: float = 0.10  # peak RSS: |ratio - 1| at least this

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise CompareError(f"alpha must be in (0, 1); got {self.alpha}")
        for name in ("min_effect", "min_memory_effect"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 10:
                raise CompareError(
                    f"{name} must be a fraction in [0, 10) such as 0.1 (10%); got {value}"
                )


#: one process per model: ~5% of runner processes on the development VM ran 1.2-1.6x slow,
#: and two single-process benches of the same files gave ratios from 0.47x to 1.95x; without a
#: learnt spread such a pair gets no faster/slower verdict at all (``inconclusive``)
SINGLE_PROCESS_MIN_EFFECT = 1.0
#: --repeats >= REPEATED_PROCESSES on both sides, no learnt spread: the median of the
#: per-process medians. 12 benches of the same three files with 5+ processes each, on the 2-core
#: development VM under a load of 11, moved by up to 1.21x between benches (docs/measure_repeats.py)
REPEATED_MIN_EFFECT = 0.25
REPEATED_PROCESSES = 5
#: fewer processes than this on a side: a median of medians is not robust, so the comparison
#: counts as single-process (a median of two is their mean: one slow process moves it)
MIN_PROCESSES = 3


def effect_text(s: CompareSettings) -> str:
    """The latency floor in words, for the report and compare's footer."""
    if s.min_effect is not None:
        return f"±{s.min_effect:.0%} (single-process pairs: beyond the device's learnt spread)"
    return (
        f"the device's spread learnt from --repeats runs, else ±{REPEATED_MIN_EFFECT:.0%} "
        f"with --repeats {REPEATED_PROCESSES}+ on both sides; single-process pairs need the "
        "learnt spread"
    )


def latency_floor(
    settings: CompareSettings, k_base: int, k_current: int, spread: DeviceSpread | None
) -> tuple[float | None, str]:
    """The effect a latency change must reach for a faster/slower verdict, and where it came
    from. None: no verdict is possible (one process on a side and no learnt spread)."""
    single = min(k_base, k_current) < MIN_PROCESSES
    learnt = spread.floor(k_base, k_current) if spread is not None else None
    # learnt strays, but the bench-to-bench drift not yet: the floor is the drift floor
    held = spread is not None and not spread.log_drifts and learnt == UNLEARNT_DRIFT_FLOOR
    where = "drift floor" if held else "learnt"
    if single:
        if learnt is None:
            return None, "one process per side, no learnt spread"
        if settings.min_effect is not None and settings.min_effect > learnt:
            return settings.min_effect, "--min-effect"
        return learnt, where
    if settings.min_effect is not None:
        return settings.min_effect, "--min-effect"
    if learnt is not None:
        return learnt, where
    if min(k_base, k_current) >= REPEATED_PROCESSES:
        return REPEATED_MIN_EFFECT, "default"
    return SINGLE_PROCESS_MIN_EFFECT, "default"


def process_medians(rec: Record) -> list[float]:
    """Each process's median latency when the record pools several (``--repeats``)."""
    return [float(v) for v in rec.extra.get("process_p50_us") or []]


@dataclass(frozen=True)
class LatencyChange:
    """Latency of one variant in two runs, from the raw samples."""

    base_p50_us: float
    current_p50_us: float
    base_p90_us: float
    current_p90_us: float
    ratio: float  # current median / base median
    p90_ratio: float
    p_value: float
    n_base: int
    n_current: int
    verdict: Verdict
    #: 95% bootstrap interval on ``ratio``, resampling processes; None with < 2 processes
    ci95: tuple[float, float] | None = None
    #: the effect this verdict needed (0.2 = 20%), None when no verdict was possible
    floor: float | None = None
    # "learnt", "drift floor" (strays learnt, drift not yet), "default", "--min-effect", or why
    # there is none
    floor_source: str = ""
    processes: tuple[int, int] = (1, 1)  # processes behind the base and current medians

    @property
    def why_inconclusive(self) -> str | None:
        """One line saying what evidence was missing, for an ``inconclusive`` verdict."""
        if self.verdict is not Verdict.INCONCLUSIVE:
            return None
        if self.floor is None:
            return (
                f"latency moved {self.ratio:.2f}x with one process per side; bench with "
                f"--repeats {REPEATED_PROCESSES} for a verdict"
            )
        return (
            f"latency moved {self.ratio:.2f}x but the evidence cannot tell it from noise "
            f"(p={fmt_p(self.p_value)}, 95% CI {fmt_ci(self.ci95)}); bench with more --repeats"
        )


@dataclass(frozen=True)
class VariantChange:
    """Everything compared for one variant. ``None`` where one side did not measure it."""

    variant: str
    base: Record | None
    current: Record | None
    zip_delta_bytes: int | None = None
    accuracy_delta: float | None = None
    latency: LatencyChange | None = None
    memory_ratio: float | None = None
    memory_verdict: Verdict = Verdict.NA
    note: str | None = None
    snr_delta_db: float | None = None  # worst output's SNR, current - base (dB)
    agreement_delta: float | None = None  # worst output's top-1 agreement, current - base

    @property
    def regressed_metrics(self) -> tuple[Regression, ...]:
        """What got worse against the base run, in this order; empty when nothing did."""
        found = []
        if self.latency is not None and self.latency.verdict is Verdict.SLOWER:
            found.append(Regression.LATENCY)
        if (self.zip_delta_bytes or 0) > 0:
            found.append(Regression.ZIP)
        if (self.accuracy_delta or 0) < 0:
            found.append(Regression.ACCURACY)
        if self.memory_verdict is Verdict.LARGER:
            found.append(Regression.MEMORY)
        if (self.snr_delta_db is not None and self.snr_delta_db < -SNR_TOLERANCE_DB) or (
            self.agreement_delta or 0
        ) < 0:
            found.append(Regression.FIDELITY)
        base_ok = self.base is not None and self.base.ok
        if base_ok and self.current is not None and not self.current.ok:
            found.append(Regression.FAILED)
        return tuple(found)

    @property
    def regressed(self) -> bool:
        """Slower, bigger, less accurate, more memory or now failing: worth a person's look."""
        return bool(self.regressed_metrics)


@dataclass(frozen=True)
class Comparison:
    """Two runs of one target on one device, variant by variant."""

    base: Results
    current: Results
    settings: CompareSettings
    changes: tuple[VariantChange, ...]
    notes: tuple[str, ...] = ()
    #: the device's process-to-process spread the latency floors came from, if one was learnt
    spread: DeviceSpread | None = None

    @property
    def regressed(self) -> tuple[str, ...]:
        """The variants that regressed, in order."""
        return tuple(c.variant for c in self.changes if c.regressed)

    def change(self, variant: str) -> VariantChange:
        for c in self.changes:
            if c.variant == variant:
                return c
        raise KeyError(variant)


# --------------------------------------------------------------------------- statistics


def latency_change(
    base: Record,
    current: Record,
    settings: CompareSettings,
    spread: DeviceSpread | None = None,
) -> LatencyChange | None:
    """Compare two latency distributions.

    The ratio is that of the medians of per-process medians when both records pool several
    processes (``--repeats``), else of the pooled medians. A change is ``faster``/``slower``
    when it reaches the floor (:func:`latency_floor`), the Mann-Whitney U test on the raw
    samples says p < alpha, and the bootstrap interval over processes (when there is one)
    excludes 1. A change beyond the effect floor without that evidence is ``inconclusive``.
    """
    from scipy.stats import mannwhitneyu

    a = np.asarray(base.samples_us, dtype=np.float64)
    b = np.asarray(current.samples_us, dtype=np.float64)
    if a.size < MIN_SAMPLES or b.size < MIN_SAMPLES:
        return None
    med_a, med_b = float(np.median(a)), float(np.median(b))
    p90_a, p90_b = (float(np.percentile(x, 90)) for x in (a, b))
    if med_a <= 0 or p90_a <= 0:
        return None
    p = float(mannwhitneyu(b, a, alternative="two-sided").pvalue)
    if not math.isfinite(p):  # every sample identical on both sides
        p = 1.0
    ratio = med_b / med_a
    pa, pb = process_medians(base), process_medians(current)
    ka, kb = max(1, len(pa)), max(1, len(pb))
    if min(len(pa), len(pb)) >= MIN_PROCESSES:  # one slow process cannot move this
        ratio = float(np.median(pb)) / float(np.median(pa))
    ci = bootstrap_ratio_ci(pa, pb) if min(len(pa), len(pb)) >= 2 else None
    floor, source = latency_floor(settings, ka, kb, spread)
    effect = settings.min_effect if settings.min_effect is not None else REPEATED_MIN_EFFECT
    effect = min(effect, floor) if floor is not None else effect
    ci_excludes_1 = ci is None or ci[0] > 1.0 or ci[1] < 1.0
    if floor is not None and p < settings.alpha and ci_excludes_1 and ratio >= 1.0 + floor:
        verdict = Verdict.SLOWER
    elif floor is not None and p < settings.alpha and ci_excludes_1 and ratio <= 1 / (1 + floor):
        verdict = Verdict.FASTER
    elif 1.0 / (1.0 + effect) < ratio < 1.0 + effect:
        verdict = Verdict.SAME
    else:
        verdict = Verdict.INCONCLUSIVE
    return LatencyChange(
        base_p50_us=round(med_a, 1),
        current_p50_us=round(med_b, 1),
        base_p90_us=round(p90_a, 1),
        current_p90_us=round(p90_b, 1),
        ratio=ratio,
        p90_ratio=p90_b / p90_a,
        p_value=p,
        n_base=int(a.size),
        n_current=int(b.size),
        verdict=verdict,
        ci95=ci,
        floor=floor,
        floor_source=source,
        processes=(ka, kb),
    )


def memory_change(base: Record, current: Record, settings: CompareSettings):
    """Peak RSS ratio and its verdict (one number per run, so no test: only the effect size)."""
    pa = base.rss_mb.peak if base.rss_mb else None
    pb = current.rss_mb.peak if current.rss_mb else None
    if not pa or pb is None:
        return None, Verdict.NA
    ratio = pb / pa
    limit = 1.0 + settings.min_memory_effect
    if ratio >= limit:
        return ratio, Verdict.LARGER
    if ratio <= 1.0 / limit:
        return ratio, Verdict.SMALLER
    return ratio, Verdict.SAME


def compare_records(
    variant: str,
    base: Record | None,
    current: Record | None,
    settings: CompareSettings,
    spread: DeviceSpread | None = None,
) -> VariantChange:
    """Compare one variant; a side that is missing or failed gives ``n/a`` with a note."""
    if base is None or current is None:
        note = "new in the current run" if base is None else "not in the current run"
        return VariantChange(variant, base, current, note=note)
    zip_delta = (
        current.zip_bytes - base.zip_bytes
        if current.zip_bytes is not None and base.zip_bytes is not None
        else None
    )
    acc_delta = (
        round(current.accuracy - base.accuracy, 6)
        if current.accuracy is not None and base.accuracy is not None
        else None
    )
    snr_delta, agree_delta = fidelity_change(base, current)
    if not (base.ok and current.ok):
        side = "base" if not base.ok else "current"
        rec = base if not base.ok else current
        return VariantChange(
            variant,
            base,
            current,
            zip_delta,
            acc_delta,
            note=f"failed in the {side} run: {rec.error}",
        )
    notes = []
    if base.eval_n != current.eval_n and acc_delta is not None:
        notes.append(f"accuracy on {base.eval_n} vs {current.eval_n} samples")
    lat = latency_change(base, current, settings, spread)
    if lat is None:
        notes.append("too few latency samples to compare")
    elif lat.why_inconclusive:
        notes.append(lat.why_inconclusive)
    mem_ratio, mem_verdict = memory_change(base, current, settings)
    if (base.fidelity or current.fidelity) and base.reference != current.reference:
        notes.append(f"fidelity against {base.reference} vs {current.reference}")
    return VariantChange(
        variant,
        base,
        current,
        zip_delta,
        acc_delta,
        lat,
        mem_ratio,
        mem_verdict,
        "; ".join(notes) or None,
        snr_delta,
        agree_delta,
    )


def fidelity_change(base: Record, current: Record) -> tuple[float | None, float | None]:
    """The worst output's SNR change (dB; 0 when both are identical to the reference, -inf
    when the base was identical and the current is not) and top-1 agreement change."""
    b, c = worst_fidelity(base.fidelity), worst_fidelity(current.fidelity)
    if b is None or c is None:
        return None, None
    snr = None
    if b.snr_db is not None and c.snr_db is not None:
        snr = 0.0 if b.snr_db == c.snr_db else round(c.snr_db - b.snr_db, 3)
    agree = None
    if b.top1_agreement is not None and c.top1_agreement is not None:
        agree = round(c.top1_agreement - b.top1_agreement, 6)
    return snr, agree


# --------------------------------------------------------------------------- runs


def check_comparable(base: Results, current: Results) -> None:
    """Refuse to compare runs of different targets or devices, or an emulated CPU's latency
    with a real one's; the message says which differ."""
    if bool(base.device.emulated) != bool(current.device.emulated):
        fake = base if base.device.emulated else current
        real = current if fake is base else base
        raise CompareError(
            f"run {fake.run_id} on {fake.target} ran under CPU emulation "
            f"({fake.device.emulation_evidence or 'emulated'}) but run {real.run_id} on "
            f"{real.target} on a real CPU; emulated latency says nothing about a device, so it "
            "is never compared with a real one: compare runs that both ran on the device"
        )
    if base.target != current.target:
        raise CompareError(
            f"run {base.run_id} ran on target {base.target} but run {current.run_id} on "
            f"{current.target}; compare runs of the same target (use --target)"
        )
    if device_key(base.device) != device_key(current.device):
        raise CompareError(
            f"{base.target}: run {base.run_id} was measured on {describe_device(base.device)} "
            f"but run {current.run_id} on {describe_device(current.device)}; latency across "
            "devices is not comparable: pick two runs of the same device (see edgebench history)"
        )


def run_process_medians(*runs: Results) -> list[list[float]]:
    """The per-process medians of every repeated record of these runs."""
    return [process_medians(r) for res in runs for r in res.records if r.ok]


def compare_runs(
    base: Results,
    current: Results,
    settings: CompareSettings | None = None,
    spread: DeviceSpread | None = None,
) -> Comparison:
    """Compare every variant of two runs of one target on one device.

    ``spread`` is the device's process-to-process spread (see
    :mod:`edgebench.bench.judgement.evidence`); by default it is learnt from the two runs' own
    repeated records.
    """
    settings = settings or CompareSettings()
    check_comparable(base, current)
    if spread is None:
        spread = learn_spread(run_process_medians(base, current))
    base_recs = {r.key: r for r in base.records}
    cur_recs = {r.key: r for r in current.records}
    order = [r.key for r in current.records] + [v for v in base_recs if v not in cur_recs]
    changes = tuple(
        compare_records(v, base_recs.get(v), cur_recs.get(v), settings, spread) for v in order
    )
    notes = []
    b, c = base.device, current.device
    if (b.runtime_name, b.runtime_version) != (c.runtime_name, c.runtime_version):
        notes.append(
            f"runtime changed: {b.runtime_name} {b.runtime_version} -> "
            f"{c.runtime_name} {c.runtime_version}"
        )
    for name in ("threads", "xnnpack", "runs", "warmup"):
        x, y = getattr(base.settings, name), getattr(current.settings, name)
        if x != y:
            notes.append(f"settings changed: {name} {_setting(x)} -> {_setting(y)}")
    if base.git_commit != current.git_commit and base.git_commit and current.git_commit:
        notes.append(f"commit {base.git_commit[:10]} -> {current.git_commit[:10]}")
    return Comparison(base, current, settings, changes, tuple(notes), spread)


def spread_from_history(
    history: History | None, runs: Sequence[Results], limit: int = 50
) -> DeviceSpread | None:
    """The spread of the runs' target and device: process strays from its last ``limit`` runs
    in the history and the runs themselves; bench-to-bench drift from the history's re-benches
    of unchanged model files, leaving out the runs being compared (a real change there must
    not widen its own floor)."""
    first = runs[0]
    past: list[tuple[str, list[float]]] = []
    if history is not None:
        compared = [row.id for row in map(history.find, runs) if row is not None]
        past = history.repeated_records(first.target, device_key(first.device), limit, compared)
    return learn_spread([m for _, m in past] + run_process_medians(*runs), rebenched=past)


def _setting(value: object) -> str:
    """A setting as the command line writes it: ``1,2`` for a matrix, ``on,off`` for XNNPACK."""
    if isinstance(value, tuple):
        return ",".join({True: "on", False: "off"}.get(v, str(v)) if isinstance(v, bool)
                        else str(v) for v in value)
    return str(value)


# --------------------------------------------------------------------------- finding runs


def load_results_paths(path: Path) -> list[Results]:
    """Results from a results file or every results-*.json of a run folder."""
    path = Path(path)
    files = sorted(path.glob("results-*.json")) if path.is_dir() else [path]
    if not files:
        raise CompareError(f"{path} holds no results-*.json; run edgebench bench first")
    return [Results.load(f) for f in files]


def resolve_ref(history: History | None, ref: str, target: str | None = None) -> list[Results]:
    """The results (one per target) a reference names.

    A reference is a results file or run folder on disk, ``latest`` or ``latest~N`` (the N-th
    bench before the newest in the history), ``#N`` (bench number N), or a run id as listed by
    ``edgebench history`` (its newest bench, when the same build was benched more than once).
    """
    if Path(ref).exists() and (Path(ref).is_dir() or ref.endswith(".json")):
        found = load_results_paths(Path(ref))
    else:
        if history is None:
            raise CompareError(
                f"{ref} is not a results file or run folder, and there is no history"
            )
        found = [history.load(row) for row in history.rows_of(_bench_of(history, ref, target))]
    if target is not None:
        found = [r for r in found if r.target == target]
        if not found:
            raise CompareError(f"{ref} has no results for target {target}; see edgebench history")
    return found


def load_ref(history_path: Path, ref: str, target: str | None = None) -> list[Results]:
    """:func:`resolve_ref`, opening the history only when the reference is not a path."""
    if Path(ref).exists() and (Path(ref).is_dir() or ref.endswith(".json")):
        return resolve_ref(None, ref, target)
    with open_history(history_path, create=False) as history:
        return resolve_ref(history, ref, target)


def _bench_of(history: History, ref: str, target: str | None) -> int:
    """The bench number a history reference names: latest~N, #N, or the newest bench of a run id."""
    if ref == "latest" or ref.startswith("latest~"):
        back = ref.partition("~")[2] or "0"
        if not back.isdigit():
            raise CompareError(f"{ref!r}: write latest~N with a whole number N, e.g. latest~1")
        benches = history.benches(target)
        if int(back) >= len(benches):
            raise CompareError(
                f"{ref}: the history {history.path} holds {len(benches)} run(s)"
                + (f" of {target}" if target else "")
                + "; bench more runs or name one from edgebench history"
            )
        return benches[int(back)]
    if ref.startswith("#") and ref[1:].isdigit():
        if not history.rows_of(int(ref[1:])):
            raise CompareError(f"no bench {ref} in {history.path}; see edgebench history")
        return int(ref[1:])
    benches = history.benches(target, run_id=ref)
    if not benches:
        raise CompareError(
            f"no run {ref!r} in {history.path}; name a run id or #N from edgebench history, "
            "latest~N, or a results file"
        )
    return benches[0]


def pair_runs(base: Sequence[Results], current: Sequence[Results]) -> list[tuple[Results, Results]]:
    """Pair results by target; targets that only one side has are an error, not a silence."""
    by_target = {r.target: r for r in base}
    pairs = [(by_target[c.target], c) for c in current if c.target in by_target]
    if not pairs:
        raise CompareError(
            f"the runs share no target (base: {', '.join(r.target for r in base)}; current: "
            f"{', '.join(r.target for r in current)}); compare runs of the same target"
        )
    return pairs


def default_pairs(history: History, target: str | None = None) -> list[tuple[Results, Results]]:
    """The latest run (each of its targets) and the run before it on the same target and device."""
    benches = history.benches(target)
    if not benches:
        raise HistoryError(
            f"the history {history.path} is empty; run edgebench bench (twice) first"
        )
    pairs, first = [], []
    for row in history.rows_of(benches[0], target):
        prev = history.previous(row)
        if prev is None:
            first.append(row)
            continue
        pairs.append((history.load(prev), history.load(row)))
    if not pairs:
        row = first[0]
        raise NothingToCompare(
            f"run {row.run_id} is the first run of {row.target} on {row.device_name} in "
            f"{history.path}: nothing to compare with yet; the next bench will be"
        )
    return pairs


def comparisons_for(
    history_path: Path,
    base_ref: str | None,
    current_ref: str | None,
    target: str | None,
    settings: CompareSettings,
) -> list[Comparison]:
    """What ``edgebench compare`` compares: defaults from the history, else the named runs."""
    needs_history = (
        base_ref is None
        or current_ref is None
        or not all(Path(r).exists() for r in (base_ref, current_ref))
    )
    history = open_history(history_path, create=False) if needs_history else None
    try:
        if base_ref is None:
            pairs = default_pairs(history, target)
        else:
            base = resolve_ref(history, base_ref, target)
            current = resolve_ref(history, current_ref or "latest", target)
            pairs = pair_runs(base, current)
        return [
            compare_runs(b, c, settings, spread_from_history(history, [b, c])) for b, c in pairs
        ]
    finally:
        if history is not None:
            history.close()


# --------------------------------------------------------------------------- output


def fmt_delta_int(x: int | None) -> str:
    return "—" if x is None else f"{x:+,}"


def fmt_delta_acc(x: float | None) -> str:
    return "—" if x is None else f"{x:+.4f}"


def fmt_worst_snr(rec: Record | None) -> str:
    worst = worst_fidelity(rec.fidelity) if rec is not None else None
    return format_snr(worst.snr_db if worst else None)


def fmt_delta_snr(x: float | None) -> str:
    if x is None:
        return "—"
    return format_snr(x) if math.isinf(x) else f"{x:+.2f}"


def fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.0e}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "—" if ci is None else f"{ci[0]:.2f}–{ci[1]:.2f}×"


def fmt_floor(lat: LatencyChange | None) -> str:
    """The floor a latency verdict needed, and where it came from: ``±23% learnt``."""
    if lat is None:
        return "—"
    if lat.floor is None:
        return "none (1 process)"
    return f"±{lat.floor:.0%} {lat.floor_source}"


COLUMNS = (
    "variant",
    "zip bytes",
    "Δ zip",
    "accuracy",
    "Δ acc",
    "SNR dB",
    "Δ SNR",
    "p50 µs",
    "p50 ratio",
    "95% CI",
    "p90 ratio",
    "p",
    "floor",
    "latency",
    "peak MB ratio",
    "memory",
)


def comparison_rows(cmp: Comparison) -> list[tuple[str, ...]]:
    """One row per variant, with the verdicts in words."""
    rows = []
    for c in cmp.changes:
        cur = c.current or c.base
        lat = c.latency
        rows.append(
            (
                c.variant,
                f"{cur.zip_bytes:,}" if cur and cur.zip_bytes is not None else "—",
                fmt_delta_int(c.zip_delta_bytes),
                f"{cur.accuracy:.4f}" if cur and cur.accuracy is not None else "—",
                fmt_delta_acc(c.accuracy_delta),
                fmt_worst_snr(cur),
                fmt_delta_snr(c.snr_delta_db),
                f"{lat.base_p50_us:,.1f} → {lat.current_p50_us:,.1f}" if lat else "—",
                f"{lat.ratio:.2f}×" if lat else "—",
                fmt_ci(lat.ci95) if lat else "—",
                f"{lat.p90_ratio:.2f}×" if lat else "—",
                fmt_p(lat.p_value) if lat else "—",
                fmt_floor(lat),
                lat.verdict.value if lat else Verdict.NA.value,
                f"{c.memory_ratio:.2f}×" if c.memory_ratio is not None else "—",
                c.memory_verdict.value,
            )
        )
    return rows


def describe_spread(spread: DeviceSpread | None) -> str:
    if spread is None:
        return (
            f"not learnt yet (needs --repeats {MIN_PROCESSES}+ runs of this device in the "
            "history)"
        )
    return (
        f"processes on this device stray up to {spread.worst_ratio:.2f}x from their siblings "
        f"({spread.describe()})"
    )


def format_comparison(cmp: Comparison) -> str:
    """A heading naming both runs and the device, the table, then notes."""
    from edgebench.bench.outputs.summary import format_table

    b, c = cmp.base, cmp.current
    s = cmp.settings
    lines = [
        f"compare {c.target} on {describe_device(c.device)}",
        f"  base     {b.run_id}  {b.created_at}",
        f"  current  {c.run_id}  {c.created_at}",
        f"  verdicts: Mann-Whitney U p < {s.alpha:g}, a 95% CI over processes that excludes 1, "
        f"and a median ratio beyond the floor: {effect_text(s)}; peak memory beyond "
        f"±{s.min_memory_effect:.0%}",
        f"  spread: {describe_spread(cmp.spread)}",
        "",
        format_table(comparison_rows(cmp), COLUMNS),
    ]
    notes = [f"{ch.variant}: {ch.note}" for ch in cmp.changes if ch.note] + list(cmp.notes)
    if notes:
        lines += [""] + [f"note: {n}" for n in notes]
    regressed = list(cmp.regressed)
    lines.append("")
    n = len(cmp.changes)
    lines.append(
        f"compare: {len(regressed)} of {n} variants regressed: {', '.join(regressed)}"
        if regressed
        else f"compare: no regressions in {n} variants"
    )
    return "\n".join(lines)
