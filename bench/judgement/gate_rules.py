"""The gate's rules: every limit a budgets file can set is a small object whose ``check`` turns
one record into a :class:`CheckResult` with a readable reason.

``Rule`` holds a record to a limit (``max_zip_bytes``, ``min_snr_db``, …), ``RegressionRule``
holds it against the same variant in a base run (``gate --against``), and ``CompatRule`` asks
that it loads on a target's runtime. The budgets file they come from is
:mod:`~edgebench.bench.judgement.budgets`; applying them all is
:mod:`~edgebench.bench.judgement.gate`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from edgebench.bench.judgement.ab_result import PairResult
from edgebench.bench.judgement.compare_settings import (
    CompareSettings,
    Verdict,
    latency_floor,
)
from edgebench.bench.judgement.evidence import DeviceSpread
from edgebench.bench.judgement.latency import fmt_ci, fmt_p, latency_change, process_medians
from edgebench.errors import ConfigError
from edgebench.records import Record, Results, format_snr, worst_fidelity

#: How a check that was not decided starts its reason; JUnit shows these as skipped.
NOT_CHECKED = "not checked"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Metric:
    """A number a rule can limit, and how to read it from a record."""

    name: str
    unit: str
    read: Callable[[Record, Results, str], float | None]
    upper: bool  # True: value must be <= limit; False: value must be >= limit
    percent: bool = False  # value and limit are shares, written "10%"


def _accuracy_drop(rec: Record, results: Results, baseline: str) -> float | None:
    try:  # the baseline measured in the same cell of the matrix (threads, XNNPACK, …)
        base = results.record(baseline, rec.setup)
    except KeyError:
        return None
    if base.accuracy is None or rec.accuracy is None:
        return None
    return round(base.accuracy - rec.accuracy, 6)


def _worst(field: str) -> Callable[[Record, Results, str], float | None]:
    def read(rec: Record, _s: Results, _b: str) -> float | None:
        worst = worst_fidelity(rec.fidelity)
        return None if worst is None else getattr(worst, field)

    return read


METRICS: dict[str, Metric] = {
    "max_zip_bytes": Metric("zip_bytes", "B", lambda r, _s, _b: r.zip_bytes, True),
    "min_accuracy": Metric("accuracy", "", lambda r, _s, _b: r.accuracy, False),
    "max_accuracy_drop": Metric("accuracy_drop", "", _accuracy_drop, True),
    "max_latency_p90_us": Metric(
        "latency_p90_us", "µs", lambda r, _s, _b: r.latency_us.p90 if r.latency_us else None, True
    ),
    "max_peak_rss_mb": Metric(
        "peak_rss_mb", "MB", lambda r, _s, _b: r.rss_mb.peak if r.rss_mb else None, True
    ),
    # The model's own memory (rss_mb.model: steady minus the runner's memory just before the
    # load), which the runner's Python and numpy do not blur.
    "max_model_rss_mb": Metric(
        "model_rss_mb", "MiB", lambda r, _s, _b: r.rss_mb.model if r.rss_mb else None, True
    ),
    # The last 1 s window's median over the first's (--sustained): 1.2 fails a device that
    # got more than 20% slower as it worked.
    "max_sustained_ratio": Metric(
        "sustained_ratio", "", lambda r, _s, _b: r.sustained.ratio if r.sustained else None,
        True,
    ),
    "max_j_per_inference": Metric(
        "j_per_inference", "J",
        lambda r, _s, _b: r.energy.j_per_inference if r.energy else None, True,
    ),
    "min_snr_db": Metric("snr_db", "dB", _worst("snr_db"), False),
    "min_cosine": Metric("cosine", "", _worst("cosine"), False),
    "min_top1_agreement": Metric("top1_agreement", "", _worst("top1_agreement"), False),
}
#: Rules that say nothing about a device whose CPU was emulated: what each would hold.
EMULATION_BLIND = {"max_latency_p90_us": "latency", "max_sustained_ratio": "sustained speed",
                   "max_j_per_inference": "energy"}
#: Why a rule found no value, where "was not measured" does not name the fix.
NOT_MEASURED = {
    "max_sustained_ratio": "no sustained run: bench with --sustained SECONDS (or [bench] "
                           "sustained_s)",
    "max_j_per_inference": "no energy figure: bench with --power METER on a device with a "
                           "meter",
    "max_model_rss_mb": "model_rss_mb was not measured (this flow or runtime does not give it)",
}
#: Budgets whose limit is a share in [0, 1]; min_cosine is in [-1, 1]; min_snr_db any number.
FRACTION_BUDGETS = ("min_accuracy", "max_accuracy_drop", "min_top1_agreement")


def _no_read(_r: Record, _s: Results, _b: str) -> float | None:
    return None  # regression metrics are read by RegressionRule.check from two records


# Rules that hold a run against a base run (``gate --against BASE``), keyed like METRICS.
REGRESSION_METRICS: dict[str, Metric] = {
    "max_latency_regression": Metric("latency_p50_change_vs_base", "", _no_read, True, True),
    "max_zip_growth_bytes": Metric("zip_bytes_growth_vs_base", "B", _no_read, True),
    "max_accuracy_drop_vs_base": Metric("accuracy_drop_vs_base", "", _no_read, True),
    "max_peak_rss_growth": Metric("peak_rss_change_vs_base", "", _no_read, True, True),
}


def _metric(key: str) -> Metric:
    return METRICS[key] if key in METRICS else REGRESSION_METRICS[key]


COMPAT_KEY = "require_compatible"


def _unknown_key(pattern: str, key: str) -> ConfigError:
    known = [*METRICS, *REGRESSION_METRICS, COMPAT_KEY]
    hint = difflib.get_close_matches(key, known, n=1)
    also = f"; did you mean {hint[0]!r}?" if hint else ""
    return ConfigError(
        f"unknown budget {key!r} in [budgets.{pattern!r}]{also} (known: {', '.join(known)})"
    )


def _check_limit(rule: Rule | RegressionRule, known: dict[str, Metric]) -> None:
    """A rule's key must be one of ``known`` and its limit a number; else a message naming
    the fix."""
    if rule.key not in known:
        raise _unknown_key(rule.pattern, rule.key)
    if isinstance(rule.limit, bool) or not isinstance(rule.limit, (int, float)):
        raise ConfigError(
            f"budgets.{rule.pattern!r}.{rule.key} must be a number; got {rule.limit!r}"
        )


@dataclass(frozen=True)
class Rule:
    """One limit on one metric for the variants a pattern matches."""

    pattern: str
    key: str  # a METRICS key, e.g. "max_zip_bytes"
    limit: float

    def __post_init__(self) -> None:
        _check_limit(self, METRICS)
        if self.key in FRACTION_BUDGETS and not 0 <= self.limit <= 1:
            raise ConfigError(
                f"budgets.{self.pattern!r}.{self.key} is a fraction in [0, 1] (0.85 for 85%); "
                f"got {self.limit!r}"
            )
        if self.key == "min_cosine" and not -1 <= self.limit <= 1:
            raise ConfigError(
                f"budgets.{self.pattern!r}.min_cosine is a cosine similarity in [-1, 1] "
                f"(0.999 for nearly identical outputs); got {self.limit!r}"
            )
        if self.key not in (*FRACTION_BUDGETS, "min_cosine", "min_snr_db") and not self.limit > 0:
            raise ConfigError(
                f"budgets.{self.pattern!r}.{self.key} must be > 0; got {self.limit!r}"
            )

    def check(self, rec: Record, results: Results, baseline: str) -> CheckResult:
        m = METRICS[self.key]
        value = m.read(rec, results, baseline)
        if rec.status == "incompatible":
            # Not a measurement that broke a budget: require_compatible decides about these.
            return CheckResult(rec.key, results.target, m.name, None, self, True,
                               f"{NOT_CHECKED}: incompatible with this target's runtime; "
                               "require_compatible fails the gate on that")
        if not rec.ok:
            return CheckResult(rec.key, results.target, m.name, None, self, False,
                               f"the model did not run: {rec.error}")
        if self.key in EMULATION_BLIND and (rec.emulated or results.device.emulated):
            return CheckResult(rec.key, results.target, m.name, value, self, True,
                               f"{NOT_CHECKED}: measured under CPU emulation, not the device's "
                               f"{EMULATION_BLIND[self.key]}")
        if value is None:
            why = (f"no {baseline} accuracy in this run" if self.key == "max_accuracy_drop"
                   else NOT_MEASURED.get(self.key, f"{m.name} was not measured"))
            if self.key in ("min_snr_db", "min_cosine", "min_top1_agreement"):
                why = (
                    "no output is a class vector" if rec.fidelity
                    else "no fidelity figures: bench a build's manifest, or give --reference"
                )
            return CheckResult(rec.key, results.target, m.name, None, self, False, why)
        ok = value <= self.limit if m.upper else value >= self.limit
        return CheckResult(rec.key, results.target, m.name, value, self, ok, None)


def _summary_latency(rec: Record) -> float | None:
    lat = rec.latency_us
    if lat is None:
        return None
    value = lat.p50 if lat.p50 is not None else lat.mean
    return value if value else None


@dataclass(frozen=True)
class RegressionRule:
    """One limit on how much a variant may get worse than the same variant in a base run."""

    pattern: str
    key: str  # a REGRESSION_METRICS key, e.g. "max_latency_regression"
    limit: float  # a share for percent metrics (0.1 = 10%), else bytes or accuracy

    def __post_init__(self) -> None:
        _check_limit(self, REGRESSION_METRICS)

    def check(
        self,
        cur: Record,
        base: Record | None,
        target: str,
        alpha: float,
        spread: DeviceSpread | None = None,
        ab: PairResult | None = None,
    ) -> CheckResult:
        """``ab``: the two files re-measured side by side (``--rebench``), which then judges
        latency instead of the two records."""
        name = REGRESSION_METRICS[self.key].name

        def result(value: float | None, passed: bool, reason: str | None = None) -> CheckResult:
            return CheckResult(cur.key, target, name, value, self, passed, reason)

        value: float

        if base is None:
            return result(None, True, "not in the base run; nothing to compare")
        if not cur.ok:
            return result(None, False, f"the model did not run: {cur.error}")
        if not base.ok:
            return result(None, True, "failed in the base run; nothing to compare")
        if self.key == "max_zip_growth_bytes":
            if cur.zip_bytes is None or base.zip_bytes is None:
                return result(None, False, "zip_bytes was not measured")
            value = cur.zip_bytes - base.zip_bytes
            return result(value, value <= self.limit)
        if self.key == "max_accuracy_drop_vs_base":
            if cur.accuracy is None or base.accuracy is None:
                return result(None, False, "accuracy was not measured in both runs")
            value = round(base.accuracy - cur.accuracy, 6)
            return result(value, value <= self.limit)
        if self.key == "max_peak_rss_growth":
            pc = cur.rss_mb.peak if cur.rss_mb else None
            pb = base.rss_mb.peak if base.rss_mb else None
            if not pb or pc is None:
                return result(None, False, "peak RSS was not measured in both runs")
            value = pc / pb - 1
            return result(value, value <= self.limit)
        if ab is not None and ab.ratio is not None and ab.ci is not None:
            value = ab.ratio - 1
            how = (f"side by side: 95% CI [{ab.ci[0]:.3f}, {ab.ci[1]:.3f}], {ab.rounds} "
                   f"rounds of {ab.measure}")
            if ab.ci[0] - 1 > self.limit:
                return result(value, False, how)
            return result(value, True, f"{INCONCLUSIVE}: {how}" if value > self.limit else how)
        # The rule's limit is the smallest change it fails on, but never smaller than what
        # noise alone does on this device (the floor compare uses), so a re-run cannot fail it.
        k_base, k_cur = (max(1, len(process_medians(r))) for r in (base, cur))
        noise, _ = latency_floor(CompareSettings(alpha=alpha), k_base, k_cur, spread)
        effect = max(self.limit, noise or 0.0)
        change = latency_change(base, cur, CompareSettings(alpha=alpha, min_effect=effect), spread)
        if change is None:
            # benchmark_model (adb) reports summaries, not raw samples: no test is possible, so
            # the medians (or means) are held to the limit as they are, and the output says so.
            pb = _summary_latency(base)
            pc = _summary_latency(cur)
            if pb is None or pc is None:
                return result(None, False, "latency was not measured in both runs")
            value = pc / pb - 1
            return result(value, value <= self.limit, "no raw samples: summary medians, no test")
        value = change.ratio - 1
        if change.floor is None:
            floor = "none (one process per side)"
        else:
            whose = "the rule's limit" if change.floor == self.limit else "this device's noise"
            floor = f"±{change.floor:.0%} ({whose})"
        if change.verdict is Verdict.SLOWER:
            ci = fmt_ci(change.ci95)
            return result(value, False, f"p={fmt_p(change.p_value)}, 95% CI {ci}, floor {floor}")
        if value > self.limit:
            # Over the limit, but not shown to be real: passes, and says what evidence is missing.
            why = change.why_inconclusive or f"{value:+.0%} is within the floor {floor}"
            return result(value, True, f"{INCONCLUSIVE}: {why}")
        return result(value, True, f"p={fmt_p(change.p_value)}, floor {floor}")


@dataclass(frozen=True)
class CompatRule:
    """The variants a pattern matches must load on each named target's runtime.

    ``targets`` are addresses as given to ``--target`` (the ``target`` of a results file);
    empty means every target in the results.
    """

    pattern: str
    targets: tuple[str, ...] = ()
    key: str = COMPAT_KEY

    def applies_to(self, results: Results) -> bool:
        return not self.targets or any(same_target(t, results.target) for t in self.targets)

    def check(self, rec: Record, results: Results, baseline: str) -> CheckResult:
        if rec.status == "incompatible":
            passed, reason = False, rec.error
        elif not rec.ok:
            passed = False
            reason = f"the model did not run, so it is not known to load: {rec.error}"
        else:
            passed, reason = True, None
        return CheckResult(rec.key, results.target, "compatible", None, self, passed, reason)


def same_target(name: str, address: str) -> bool:
    """The target as typed to --target (a trailing '/' aside)."""
    return name.rstrip("/") == address.rstrip("/")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one rule on one record (``variant`` holds the record's key)."""

    variant: str
    target: str
    metric: str
    value: float | None
    rule: Rule | RegressionRule | CompatRule
    passed: bool
    reason: str | None = None

    @property
    def skipped(self) -> bool:
        """Passed without being decided: not checked (an incompatible model) or inconclusive
        (a latency change that the evidence cannot confirm). JUnit shows these as skipped."""
        return self.passed and (self.reason or "").startswith((NOT_CHECKED, INCONCLUSIVE))

    @property
    def op(self) -> str:
        if isinstance(self.rule, CompatRule):
            return "with"
        return "<=" if _metric(self.rule.key).upper else ">="

    def describe(self) -> str:
        if isinstance(self.rule, CompatRule):
            text = f"compatible with {self.target}"
            return f"{text} ({self.reason})" if self.reason else text
        m = _metric(self.rule.key)
        if m.percent:
            value = "—" if self.value is None else f"{self.value:+.1%}"
            limit = f"{self.rule.limit:.1%}".replace(".0%", "%")
        elif m.name == "snr_db":
            value = format_snr(self.value)
            limit = _fmt(self.rule.limit)
        else:
            value = "—" if self.value is None else _fmt(self.value)
            limit = _fmt(self.rule.limit)
        suffix = f" {m.unit}" if m.unit else ""
        text = f"{self.metric} {value} {self.op} {limit}{suffix}"
        return f"{text} ({self.reason})" if self.reason else text


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) >= 1000:
        return f"{int(x):,}"
    return f"{x:g}" if isinstance(x, float) else str(x)
