"""The gate: hold results against budgets. Every check is a small object; collect all failures.

Every rule of a budgets file (:mod:`~edgebench.bench.judgement.budgets`) is applied to every
record it matches, across all results files; with a base run, the regression rules hold each
record against the same variant on the same target and device. The verdict is a
:class:`GateReport`: one :class:`~edgebench.bench.judgement.gate_rules.CheckResult` per check.
Its table and JUnit XML are in ``edgebench.bench.outputs``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edgebench.bench.judgement.ab_result import PairResult
from edgebench.bench.judgement.budgets import Budgets
from edgebench.bench.judgement.compare import check_comparable, run_process_medians
from edgebench.bench.judgement.compare_settings import CompareError, CompareSettings
from edgebench.bench.judgement.evidence import DeviceSpread, learn_spread
from edgebench.bench.judgement.gate_rules import (
    COMPAT_KEY,
    CheckResult,
    CompatRule,
    same_target,
)
from edgebench.errors import ConfigError
from edgebench.records import Results


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
    rebenched: Mapping[tuple[str, str], PairResult] | None = None,
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
            if not any(same_target(t, b) for b in benched):
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
        checks += regression_checks(budgets, results, against, alpha, spreads, rebenched)
    return GateReport(tuple(checks), tuple(results))


def regression_checks(
    budgets: Budgets,
    results: Sequence[Results],
    against: Sequence[Results],
    alpha: float | None = None,
    spreads: dict[str, DeviceSpread | None] | None = None,
    rebenched: Mapping[tuple[str, str], PairResult] | None = None,
) -> list[CheckResult]:
    """The regression rules, run by run against the base run of the same target and device.

    ``rebenched`` maps (target, variant) to both files re-measured side by side
    (``--rebench``): the latency rule then judges that instead of the two records.

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
                    ab = (rebenched or {}).get((res.target, rec.variant))
                    checks.append(rule.check(rec, base_rec, res.target, alpha, spread, ab))
    return checks
