"""The CI examples in docs/ci/ (a GitHub Actions workflow, a GitLab CI job), run as a user's CI
would run them: each step in order, in an empty folder, with `edgebench` on PATH, against the
tiny models, their build step given an already-built manifest (tests/manifest_helpers.py) and
everything else as written. The documentation's shell examples are tests/test_docs_examples.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from manifest_helpers import tiny_manifest
from shell_examples import NOISE_PROOF_LATENCY, sh, shell_env

from edgebench.records import Results

# Slow (not in the fast tier): whole CI jobs run step by step.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "docs" / "ci"
SHA = "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567"


# Budgets for the tiny models, with the regression rules the shipped budgets carry.
TINY_BUDGETS = f"""schema_version = 1
[budgets."*"]
max_zip_bytes = 100000
max_peak_rss_mb = 500
max_latency_regression = "{NOISE_PROOF_LATENCY}"
max_zip_growth_bytes = 0
max_accuracy_drop_vs_base = 0.005
max_peak_rss_growth = "10%"
"""


# --------------------------------------------------------------------------- docs/ci


def github_steps(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def gitlab_steps(job: dict, templates: dict) -> list[str]:
    base = templates.get(job.get("extends", ""), {})
    return list(base.get("before_script", [])) + list(job["script"])


def run_job(steps: list[str], work: Path, env: dict[str, str]) -> list[str]:
    """Run a job's steps in order; the install step is skipped (edgebench is installed) and
    the build step gets a manifest of the tiny models under the run name it asks for."""
    outputs = []
    for step in steps:
        if step.startswith("pip install"):
            continue
        if step.startswith("edgebench build"):
            name = re.search(r'--run "([^"]+)"', step).group(1)
            run = sh(f'printf %s "{name}"', work, env).stdout  # the shell expands it
            tiny_manifest(work / "out" / run, run)
            continue
        done = sh(step, work, env)
        assert done.returncode == 0, f"{step}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return outputs


@pytest.fixture
def ci_folder(tmp_path):
    work = tmp_path / "repo"
    (work / "models").mkdir(parents=True)
    (work / "models" / "budgets.toml").write_text(TINY_BUDGETS)
    return work


def test_the_github_actions_workflow_runs_step_by_step(tmp_path, ci_folder):
    flow = yaml.safe_load((CI / "github-actions.yml").read_text())
    jobs = flow["jobs"]
    assert set(jobs) == {"nightly", "release"} and flow[True]["schedule"]  # `on:` parses as True
    summary = tmp_path / "summary.md"
    common = dict(flow["env"], GITHUB_STEP_SUMMARY=str(summary), GITHUB_SHA=SHA)
    for night in ("1", "2"):
        env = shell_env(tmp_path, **common, GITHUB_RUN_NUMBER=night)
        run_job(github_steps(jobs["nightly"]), ci_folder, env)
    text = summary.read_text()
    assert "| target | variant |" in text  # the bench summary as a Markdown table
    assert "nothing to compare with yet" in text and "No regressions." in text
    bench_json = json.loads((ci_folder / "out" / "benchmark.json").read_text())
    assert len(bench_json["benchmarks"]) == 3 and bench_json["commit_info"]["id"] == SHA
    for tag, last in (("v1.3", "v1.3"), ("v1.4", "v1.3")):
        env = shell_env(tmp_path, **common, **dict(jobs["release"]["env"], LAST_RELEASE=last),
                        GITHUB_REF_NAME=tag)
        run_job(github_steps(jobs["release"]), ci_folder, env)
    assert summary.read_text().rstrip().endswith("**gate: PASSED**")
    res = Results.load(ci_folder / "out" / "release-v1.4" / "results-local.json")
    assert res.git_commit == SHA and len(res.records) == 3
    assert (ci_folder / "out" / "report.html").is_file()


def test_the_gitlab_job_runs_line_by_line(tmp_path, ci_folder):
    pipeline = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    templates = {k: v for k, v in pipeline.items() if k.startswith(".")}
    assert pipeline["nightly"]["artifacts"]["reports"]["junit"] == "out/gate.xml"
    common = dict(pipeline["variables"], CI_COMMIT_SHA=SHA)
    env = shell_env(tmp_path, **common, CI_PIPELINE_IID="7")
    run_job(gitlab_steps(pipeline["nightly"], templates), ci_folder, env)
    assert "nothing to compare with yet" in (ci_folder / "out" / "compare.md").read_text()
    for tag, last in (("v1.3", "v1.3"), ("v1.4", "v1.3")):
        env = shell_env(tmp_path, **common, **dict(pipeline["release"]["variables"],
                                                   LAST_RELEASE=last), CI_COMMIT_TAG=tag)
        outputs = run_job(gitlab_steps(pipeline["release"], templates), ci_folder, env)
    assert "gate: PASSED" in outputs[-1] and "zip_bytes_growth_vs_base" in outputs[-1]
    res = Results.load(ci_folder / "out" / "release-v1.4" / "results-local.json")
    assert res.git_commit == SHA
