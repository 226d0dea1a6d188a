"""Shell examples run as a user runs them: each line with bash -e and pipefail, in an empty
folder, with `edgebench` on PATH (this interpreter's). Shared by the tests of the
documentation's examples (tests/test_docs_examples.py) and of the CI examples in docs/ci/
(tests/test_ci_examples.py)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# The jobs here re-bench the same files and must pass whatever else the machine runs (the
# suite's other xdist worker among it): a re-bench of a ~10 µs model has moved 4.3x under that
# load, beyond the floor learnt from a short history. So latency gets a limit no noise reaches;
# the latency rules' verdicts are tested on recorded samples (test_evidence, test_gate_against).
NOISE_PROOF_LATENCY = "900%"


def shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a CI shell: `edgebench` on PATH (this interpreter's edgebench),
    no commit variables of the machine running the tests, plus ``extra``."""
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    python = shlex.quote(sys.executable)
    (shim / "edgebench").write_text(f'#!/bin/sh\nexec {python} -m edgebench "$@"\n')
    (shim / "edgebench").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_SHA", "CI_COMMIT_SHA")}
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    if "PYTHONPATH" in env:  # a checkout on PYTHONPATH: absolute, the steps run elsewhere
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve())
                                            for p in env["PYTHONPATH"].split(os.pathsep) if p)
    env.update(extra)
    return env


def sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """One CI step: bash with -e and pipefail, as GitHub Actions and GitLab run them."""
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def small_pipeline_with_shipped_rules(tmp_path: Path) -> Path:
    """The small test pipeline, gated by its own absolute budgets plus every regression rule of
    the shipped models/budgets.toml (the rules the release example depends on; the latency
    limit raised past the noise of a loaded machine)."""
    shipped = tomllib.loads((ROOT / "models" / "budgets.toml").read_text())["budgets"]["*"]
    rules = {k: v for k, v in shipped.items()
             if k.endswith(("_regression", "_growth", "_growth_bytes", "_vs_base"))}
    assert len(rules) == 4
    rules["max_latency_regression"] = NOISE_PROOF_LATENCY
    budgets = (FIXTURES / "small_budgets.toml").read_text().replace(
        '[budgets."*"]\n',
        '[budgets."*"]\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in rules.items()))
    (tmp_path / "budgets.toml").write_text(budgets)
    # Smaller still than the small pipeline: the lines must run green (three builds, three
    # benches); the verdicts themselves are tested in test_ci_outputs.
    pipeline = (FIXTURES / "small_pipeline.toml").read_text().replace(
        'budgets = "small_budgets.toml"', f'budgets = "{tmp_path / "budgets.toml"}"').replace(
        "repeats = 3 ", "repeats = 2 ").replace(
        'variants = ["float32", "dynamic", "float16", "int8"]', 'variants = ["int8"]').replace(
        "train_limit = 2000", "train_limit = 600").replace("test_limit = 500", "test_limit = 100")
    assert str(tmp_path) in pipeline and "repeats = 2 " in pipeline
    assert pipeline.count('variants = ["int8"]') == 2 and "train_limit = 600" in pipeline
    (tmp_path / "pipeline.toml").write_text(pipeline)
    return tmp_path / "pipeline.toml"
