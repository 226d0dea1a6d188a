"""The gate: hold results against budgets. Every check is a small object; collect all failures.

A budgets file is TOML with rules keyed by variant name or glob::

    schema_version = 1
    baseline = "baseline/float32"     # what max_accuracy_drop is measured against

    [budgets."*/int8"]
    max_zip_bytes = 12000
    min_accuracy = 0.80

    [budgets."*"]
    max_accuracy_drop = 0.05          # absolute, against the baseline of the same run
    max_latency_p90_us = 5000
    max_peak_rss_mb = 300

Output fidelity against the float32 reference (no labels needed; the worst output counts)::

    [budgets."*/int8"]
    min_snr_db = 25                   # 10·log10(Σref² / Σ(ref − out)²)
    min_cosine = 0.999
    min_top1_agreement = 0.95         # outputs that are class vectors

Regression rules sit in the same tables and apply with ``edgebench gate --against BASE``::

    [budgets."*"]
    max_latency_regression = "10%"    # median slower by more than this AND Mann-Whitney U p < alpha
    max_zip_growth_bytes = 0          # zip bytes may not grow
    max_accuracy_drop_vs_base = 0.005 # absolute, against the same variant in BASE
    max_peak_rss_growth = "10%"

``require_compatible`` asks that the matching variants load on the named targets' runtimes: a
record there that is ``incompatible`` (or did not run) fails the gate. ``edgebench gate
--require-compatible TARGET`` asks the same of every variant benched on TARGET::

    [budgets."pruned/*"]
    require_compatible = ["ssh://pi@raspberrypi.local"]   # or true: every target benched
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from edgebench.bench.judgement.compare import check_comparable, run_process_medians
from edgebench.bench.judgement.compare_settings import (
    CompareError,
    CompareSettings,
    Verdict,
    latency_floor,
)
from edgebench.bench.judgement.evidence import DeviceSpread, learn_spread
from edgebench.bench.judgement.history import describe_device
from edgebench.bench.judgement.latency import fmt_ci, fmt_p, latency_change, process_medians
from edgebench.errors import ConfigError
from edgebench.records import Record, Results, format_snr, worst_fidelity

#: How a check that was not decided starts its reason; JUnit shows these as skipped.
NOT_CHECKED = "not checked"
INCONCLUSIVE = "inconclusive"

BUDGETS_SCHEMA_VERSION = 1


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
    "min_snr_db": Metric("snr_db", "dB", _worst("snr_db"), False),
    "min_cosine": Metric("cosine", "", _worst("cosine"), False),
    "min_top1_agreement": Metric("top1_agreement", "", _worst("top1_agreement"), False),
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


@dataclass(frozen=True)
class Rule:
    """One limit on one metric for the variants a pattern matches."""

    pattern: str
    key: str  # a METRICS key, e.g. "max_zip_bytes"
    limit: float

    def __post_init__(self) -> None:
        if self.key not in METRICS:
            raise _unknown_key(self.pattern, self.key)
        if isinstance(self.limit, bool) or not isinstance(self.limit, (int, float)):
            raise ConfigError(
                f"budgets.{self.pattern!r}.{self.key} must be a number; got {self.limit!r}"
            )
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
        if self.key == "max_latency_p90_us" and (rec.emulated or results.device.emulated):
            return CheckResult(rec.key, results.target, m.name, value, self, True,
                               f"{NOT_CHECKED}: measured under CPU emulation, not the device's "
                               "latency")
        if value is None:
            why = (f"no {baseline} accuracy in this run" if self.key == "max_accuracy_drop"
                   else f"{m.name} was not measured")
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


def parse_share(pattern: str, key: str, limit: object) -> float:
    """A regression limit written as a percentage string, e.g. "10%" -> 0.1."""
    text = limit.strip() if isinstance(limit, str) else None
    try:
        if text is None or not text.endswith("%"):
            raise ValueError
        value = float(text[:-1]) / 100
    except ValueError:
        raise ConfigError(
            f'budgets.{pattern!r}.{key} must be a percentage string such as "10%"; got {limit!r}'
        ) from None
    if value < 0:
        raise ConfigError(f"budgets.{pattern!r}.{key} must be >= 0%; got {limit!r}")
    return value


@dataclass(frozen=True)
class RegressionRule:
    """One limit on how much a variant may get worse than the same variant in a base run."""

    pattern: str
    key: str  # a REGRESSION_METRICS key, e.g. "max_latency_regression"
    limit: float  # a share for percent metrics (0.1 = 10%), else bytes or accuracy

    def __post_init__(self) -> None:
        if self.key not in REGRESSION_METRICS:
            raise _unknown_key(self.pattern, self.key)
        if isinstance(self.limit, bool) or not isinstance(self.limit, (int, float)):
            raise ConfigError(
                f"budgets.{self.pattern!r}.{self.key} must be a number; got {self.limit!r}"
            )

    def check(
        self,
        cur: Record,
        base: Record | None,
        target: str,
        alpha: float,
        spread: DeviceSpread | None = None,
    ) -> CheckResult:
        name = REGRESSION_METRICS[self.key].name

        def result(value: float | None, passed: bool, reason: str | None = None) -> CheckResult:
            return CheckResult(cur.key, target, name, value, self, passed, reason)

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
        return not self.targets or any(_same_target(t, results.target) for t in self.targets)

    def check(self, rec: Record, results: Results, baseline: str) -> CheckResult:
        if rec.status == "incompatible":
            passed, reason = False, rec.error
        elif not rec.ok:
            passed = False
            reason = f"the model did not run, so it is not known to load: {rec.error}"
        else:
            passed, reason = True, None
        return CheckResult(rec.key, results.target, "compatible", None, self, passed, reason)


def _same_target(name: str, address: str) -> bool:
    """The target as typed to --target (a trailing '/' aside)."""
    return name.rstrip("/") == address.rstrip("/")


def compat_rule_from(pattern: str, value: object, where: str) -> CompatRule | None:
    """``require_compatible = true | "TARGET" | ["TARGET", …]`` of one budgets table."""
    if value is True:
        return CompatRule(pattern)
    if value is False:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return CompatRule(pattern, tuple(value))
    raise ConfigError(
        f"{where}: budgets.{pattern!r}.{COMPAT_KEY} must be true or a list of targets, "
        f'e.g. {COMPAT_KEY} = ["ssh://pi@raspberrypi.local"]; got {value!r}'
    )


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


@dataclass(frozen=True)
class Budgets:
    """A parsed budgets file."""

    rules: tuple[Rule, ...]
    baseline: str = "baseline/float32"
    path: Path | None = None
    patterns: tuple[str, ...] = field(default_factory=tuple)
    regressions: tuple[RegressionRule, ...] = ()  # apply only with gate --against BASE
    compat: tuple[CompatRule, ...] = ()


def load_budgets(path: Path) -> Budgets:
    """Parse and check a budgets TOML file; unknown keys are errors that name the fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"budgets file {path} does not exist; pass --budgets PATH") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    top = {"schema_version", "baseline", "budgets"}
    for key in data:
        if key not in top:
            hint = difflib.get_close_matches(key, top, n=1)
            also = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown key {key!r} in {path}{also}")
    version = data.get("schema_version", BUDGETS_SCHEMA_VERSION)
    if version != BUDGETS_SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: budgets schema_version {version!r} is not supported "
            f"(this edgebench reads {BUDGETS_SCHEMA_VERSION})"
        )
    table = data.get("budgets", {})
    if not isinstance(table, dict) or not table:
        raise ConfigError(f'{path} has no [budgets."<variant or glob>"] tables; add one')
    rules, regressions, compat = [], [], []
    for pattern, limits in table.items():
        if not isinstance(limits, dict):
            raise ConfigError(f'{path}: budgets.{pattern} must be a table: [budgets."{pattern}"]')
        for key, limit in limits.items():
            if key == COMPAT_KEY:
                crule = compat_rule_from(pattern, limit, str(path))
                if crule is not None:
                    compat.append(crule)
            elif key in REGRESSION_METRICS:
                if REGRESSION_METRICS[key].percent:
                    limit = parse_share(pattern, key, limit)
                regressions.append(RegressionRule(pattern, key, limit))
            else:
                rules.append(Rule(pattern, key, limit))
    baseline = data.get("baseline", "baseline/float32")
    if not isinstance(baseline, str) or not baseline:
        raise ConfigError(
            f'{path}: baseline must be a variant name such as "baseline/float32"; got {baseline!r}'
        )
    return Budgets(
        tuple(rules), baseline, path, tuple(table), tuple(regressions), tuple(compat)
    )


@dataclass(frozen=True)
class GateReport:
    """Every check of one gate run, and the results it checked (for JUnit's properties)."""

    checks: tuple[CheckResult, ...]
    results: tuple[Results, ...] = ()

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failures


def evaluate(
    budgets: Budgets,
    results: Sequence[Results],
    against: Sequence[Results] | None = None,
    alpha: float | None = None,
    require_compatible: Sequence[str] = (),
    spreads: dict[str, DeviceSpread | None] | None = None,
) -> GateReport:
    """Apply every rule to every record it matches, across all results files.

    ``require_compatible`` names targets (as given to ``--target``) on which every benched
    variant must load; the budgets file can ask the same per pattern.

    With ``against`` (the base run, one Results per target), the regression rules also hold
    each record against the same variant on the same target and device in the base run.
    """
    checks: list[CheckResult] = []
    variants = {r.variant for res in results for r in res.records}
    for pattern in budgets.patterns:
        if not any(fnmatch.fnmatchcase(v, pattern) for v in variants):
            raise ConfigError(
                f"budgets pattern {pattern!r} matches no variant in the results "
                f"(variants: {', '.join(sorted(variants))}); fix the name or glob"
            )
    drops = any(r.key == "max_accuracy_drop" for r in budgets.rules)
    if drops and budgets.baseline not in variants:
        raise ConfigError(
            f"max_accuracy_drop is measured against baseline {budgets.baseline!r}, which is not "
            f"in the results (variants: {', '.join(sorted(variants))}); set baseline = \"…\" "
            "in the budgets file"
        )
    compat = list(budgets.compat) + [CompatRule("*", (t,)) for t in require_compatible]
    benched = [res.target for res in results]
    for crule in compat:
        for t in crule.targets:
            if not any(_same_target(t, b) for b in benched):
                raise ConfigError(
                    f"{COMPAT_KEY}: no results for target {t!r} (results are for: "
                    f"{', '.join(benched)}); bench on it first or give the address as benched"
                )
    for res in results:
        for rec in res.records:
            seen: set[tuple[str, float]] = set()
            for rule in budgets.rules:
                # Two patterns that set the same limit on one variant give one check, not two.
                key = (rule.key, rule.limit)
                if fnmatch.fnmatchcase(rec.variant, rule.pattern) and key not in seen:
                    seen.add(key)
                    checks.append(rule.check(rec, res, budgets.baseline))
            for crule in compat:  # one "compatible with <target>" check per record
                if crule.applies_to(res) and fnmatch.fnmatchcase(rec.variant, crule.pattern):
                    checks.append(crule.check(rec, res, budgets.baseline))
                    break
    if against is not None:
        checks += regression_checks(budgets, results, against, alpha, spreads)
    return GateReport(tuple(checks), tuple(results))


def regression_checks(
    budgets: Budgets,
    results: Sequence[Results],
    against: Sequence[Results],
    alpha: float | None = None,
    spreads: dict[str, DeviceSpread | None] | None = None,
) -> list[CheckResult]:
    """The regression rules, run by run against the base run of the same target and device.

    ``spreads`` maps a target to its device's learnt process spread (from the history); a
    target without one learns it from the two runs' own repeated records.
    """
    if not budgets.regressions:
        raise ConfigError(
            f"--against needs regression rules in {budgets.path or 'the budgets file'}; add e.g. "
            f'max_latency_regression = "10%" and max_zip_growth_bytes = 0 to [budgets."*"]'
        )
    alpha = CompareSettings().alpha if alpha is None else alpha
    base_by_target = {b.target: b for b in against}
    checks: list[CheckResult] = []
    for res in results:
        base = base_by_target.get(res.target)
        if base is None:
            raise CompareError(
                f"the base run has no results for target {res.target} (it has: "
                f"{', '.join(base_by_target) or 'none'}); gate against a run of the same target"
            )
        check_comparable(base, res)
        spread = (spreads or {}).get(res.target) or learn_spread(run_process_medians(base, res))
        for rec in res.records:
            base_rec = next((b for b in base.records if b.key == rec.key), None)
            seen: set[tuple[str, float]] = set()
            for rule in budgets.regressions:
                key = (rule.key, rule.limit)  # the same limit from two patterns: one check
                if fnmatch.fnmatchcase(rec.variant, rule.pattern) and key not in seen:
                    seen.add(key)
                    checks.append(rule.check(rec, base_rec, res.target, alpha, spread))
    return checks


def format_report(report: GateReport, failures_only: bool = False) -> str:
    """A table a person and a CI log can both read, then one verdict line."""
    shown = report.failures if failures_only else report.checks
    rows = [("", "target", "variant", "check")]
    for c in shown:
        rows.append(("PASS" if c.passed else "FAIL", c.target, c.variant, c.describe()))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    ]
    n_fail = len(report.failures)
    n = len(report.checks)
    checks = f"{n} check" + ("" if n == 1 else "s")
    verdict = (
        f"gate: PASSED, {checks}" if report.passed else f"gate: FAILED, {n_fail} of {checks} failed"
    )
    return "\n".join((lines if shown else []) + [verdict])


def junit_classname(results: Results) -> str:
    """The JUnit ``classname`` of a target: its kind, a dot, then its host with every dot (and
    anything else outside ``[A-Za-z0-9_-]``) made ``_``, so CI tools that split classnames at
    dots (Jenkins, GitLab) show one package per kind, not a fake one per label of the host:
    ``ssh://pi@raspberrypi.local`` -> ``ssh.raspberrypi_local``, ``local`` ->
    ``local.<hostname>``, ``adb://R58M12`` -> ``adb.R58M12``."""
    address = results.target
    kind, sep, rest = address.partition("://")
    if not sep:
        kind, host = address, results.device.hostname or ""
    else:
        host = rest.rsplit("@", 1)[-1].strip("/").strip("[]") or "default"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", host).strip("_")
    kind = re.sub(r"[^A-Za-z0-9_-]+", "_", kind) or "target"
    return f"{kind}.{safe}" if safe else kind


def _junit_properties(res: Results) -> list[tuple[str, str]]:
    d, s = res.device, res.settings
    found = {
        "run_id": res.run_id,
        "created_at": res.created_at,
        "target": res.target,
        "git_commit": res.git_commit,
        "edgebench_version": res.edgebench_version,
        "device": describe_device(d),
        "device.hostname": d.hostname,
        "device.machine": d.machine,
        "device.cpu": d.cpu,
        "device.cores": d.cores,
        "device.os": d.os,
        "device.governor": d.governor,
        "device.python": d.python,
        "runtime": " ".join(x for x in (d.runtime_name, d.runtime_version) if x) or None,
        "settings.runs": s.runs,
        "settings.repeats": s.repeats,
        "settings.threads": s.threads,
        "settings.xnnpack": s.xnnpack,
    }
    return [(k, str(v)) for k, v in found.items() if v is not None]


def write_junit(report: GateReport, path: Path) -> None:
    """JUnit XML as CI tools read it: a ``<testsuites>`` root, one ``<testsuite>`` per target
    with the run, target, device and runtime as ``<properties>``, and one ``<testcase>`` per
    check (``classname``: :func:`junit_classname`). A broken budget is a ``<failure>``; a check
    that was not decided (an incompatible model's budgets, an inconclusive latency) is
    ``<skipped>`` with its reason. Each test case's ``time`` is its model's measuring time
    shared among the model's checks, so a suite's time adds up to its bench's."""
    from edgebench.files import write_text_atomic

    by_target = {res.target: res for res in report.results}
    order = list(dict.fromkeys([*by_target, *(c.target for c in report.checks)]))
    walls: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    for res in report.results:
        for rec in res.records:
            walls[(res.target, rec.key)] = rec.wall_s or 0.0
    for c in report.checks:
        counts[(c.target, c.variant)] = counts.get((c.target, c.variant), 0) + 1

    root = ET.Element("testsuites", name="edgebench gate")
    totals = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
    for target in order:
        checks = [c for c in report.checks if c.target == target]
        res = by_target.get(target)
        suite = ET.SubElement(root, "testsuite", name=f"edgebench gate: {target}")
        if res is not None:
            suite.set("timestamp", res.created_at)
            if res.device.hostname:
                suite.set("hostname", res.device.hostname)
            props = ET.SubElement(suite, "properties")
            for name, value in _junit_properties(res):
                ET.SubElement(props, "property", name=name, value=value)
        classname = junit_classname(res) if res is not None else re.sub(r"\W+", "_", target)
        suite_time = 0.0
        for c in checks:
            key = (c.target, c.variant)
            seconds = round(walls.get(key, 0.0) / counts[key], 3)
            suite_time += seconds
            case = ET.SubElement(suite, "testcase", classname=classname,
                                 name=f"{c.variant} {c.metric}", time=f"{seconds:.3f}")
            if not c.passed:
                fail = ET.SubElement(case, "failure", message=c.describe(), type=c.rule.key)
                fail.text = c.describe()
            elif c.skipped:
                ET.SubElement(case, "skipped", message=c.reason or "not checked")
        stats = {
            "tests": len(checks),
            "failures": sum(not c.passed for c in checks),
            "skipped": sum(c.skipped for c in checks),
            "time": suite_time,
        }
        for k, v in stats.items():
            totals[k] += v
            suite.set(k, f"{v:.3f}" if k == "time" else str(v))
        suite.set("errors", "0")
    for k, v in totals.items():
        root.set(k, f"{v:.3f}" if k == "time" else str(v))
    root.set("errors", "0")
    ET.indent(root)
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
    write_text_atomic(Path(path), text + "\n")
