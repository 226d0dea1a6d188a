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

The thresholds live in :mod:`~edgebench.bench.judgement.compare_settings`, the latency test in
:mod:`~edgebench.bench.judgement.latency`, which runs a reference names in
:mod:`~edgebench.bench.judgement.run_refs`; the table a person reads is
:mod:`edgebench.bench.outputs.compare_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from edgebench.bench.judgement.ab_result import PairResult
from edgebench.bench.judgement.compare_settings import CompareError, CompareSettings, Verdict
from edgebench.bench.judgement.evidence import DeviceSpread, learn_spread
from edgebench.bench.judgement.history import History, describe_device, device_key
from edgebench.bench.judgement.latency import LatencyChange, latency_change, process_medians
from edgebench.records import Record, Results, worst_fidelity


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
    #: both files re-measured side by side (``--rebench``): its verdict replaces the records'
    ab: PairResult | None = None

    @property
    def latency_verdict(self) -> Verdict:
        """The side-by-side verdict when there is one, else the records' latency verdict."""
        if self.ab is not None:
            return self.ab.verdict
        return self.latency.verdict if self.latency is not None else Verdict.NA

    @property
    def record(self) -> Record:
        """The current record, else the base one (a change always has at least one side)."""
        rec = self.current or self.base
        assert rec is not None, f"{self.variant}: a change with neither side"
        return rec

    @property
    def regressed_metrics(self) -> tuple[Regression, ...]:
        """What got worse against the base run, in this order; empty when nothing did."""
        found = []
        if self.latency_verdict is Verdict.SLOWER:
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
        note = f"failed in the {side} run: {rec.error}"
        return VariantChange(variant, base, current, zip_delta, acc_delta, note=note)
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
        variant, base, current, zip_delta, acc_delta, latency=lat, memory_ratio=mem_ratio,
        memory_verdict=mem_verdict, note="; ".join(notes) or None, snr_delta_db=snr_delta,
        agreement_delta=agree_delta,
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
