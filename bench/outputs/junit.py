"""The gate's verdict as JUnit XML, the format CI tools (Jenkins, GitLab, GitHub) show as tests."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from edgebench.bench.judgement.gate import GateReport
from edgebench.bench.judgement.history import describe_device
from edgebench.files import write_text_atomic
from edgebench.records import Results


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
        target_res = by_target.get(target)
        suite = ET.SubElement(root, "testsuite", name=f"edgebench gate: {target}")
        if target_res is not None:
            suite.set("timestamp", target_res.created_at)
            if target_res.device.hostname:
                suite.set("hostname", target_res.device.hostname)
            props = ET.SubElement(suite, "properties")
            for name, value in _junit_properties(target_res):
                ET.SubElement(props, "property", name=name, value=value)
        classname = (junit_classname(target_res) if target_res is not None
                     else re.sub(r"\W+", "_", target))
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
