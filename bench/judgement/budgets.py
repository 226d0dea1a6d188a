"""A budgets file: the limits the gate holds results to, read and checked.

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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgebench.bench.judgement.gate_rules import (
    COMPAT_KEY,
    REGRESSION_METRICS,
    CompatRule,
    RegressionRule,
    Rule,
)
from edgebench.errors import ConfigError

BUDGETS_SCHEMA_VERSION = 1


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
