"""``edgebench doctor TARGET``: is this device ready to bench, and if not, what fixes it?

The runner checks the device itself (``runner.pyz doctor``): Python, numpy, each TFLite runtime
(installed, imports, version), the known runtime traps (tflite-runtime <= 2.14 with numpy 2; a
runtime that is installed but fails to import, e.g. a missing library or a wheel built for a
newer glibc), free disk in the device's temporary folder, the frequency governor and whether the
temperature can be read. Every problem comes with one line that fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.judgement.history import describe_device
from edgebench.bench.orchestration.flows.runner_flow import parse_runner_output
from edgebench.deploy import RuntimeMissing, Target

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 9)
LOW_DISK_MB = 200  # the runner, the models and the eval data of a default build take ~15 MB
GOVERNOR_FIX = ("echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/"
                "scaling_governor")


@dataclass(frozen=True)
class DoctorCheck:
    """One thing checked on the device: ok, warn (benches run, figures may suffer) or fail
    (benches cannot run), with what was found and the one line that fixes it."""

    name: str
    status: str
    found: str
    fix: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    """Every check of one device."""

    target: str
    device: str
    checks: tuple[DoctorCheck, ...]

    @property
    def ready(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def problems(self) -> tuple[DoctorCheck, ...]:
        return tuple(c for c in self.checks if c.status == FAIL)


def examine(target: Target, timeout_s: float = 120.0) -> DoctorReport:
    """Check one device (the target is opened and cleaned up here). Raises
    :class:`~edgebench.deploy.TargetUnreachable` when it cannot be reached."""
    with target:
        if target.python is None:
            device = target.describe()
            return DoctorReport(target.address, describe_device(device), (
                DoctorCheck("reachable", OK, describe_device(device)),
                DoctorCheck("python", WARN, "none: this target runs TFLite's benchmark_model",
                            "give edgebench bench --benchmark-binary PATH (see the docs, Getting "
                            "started: an Android phone)"),
            ))
        archive = runner_archive()
        remote = target.push([archive])[archive]
        try:
            res = target.run([target.python, remote, "doctor"], timeout_s=timeout_s)
        except RuntimeMissing as exc:
            return DoctorReport(target.address, target.address, (
                DoctorCheck("python", FAIL, str(exc).split("; ")[0].split(": ", 1)[-1],
                            python_fix(target.python)),
            ))
        facts = parse_runner_output(res.stdout)
        if facts is None:
            why = (res.stderr.strip().splitlines() or ["no output"])[-1]
            return DoctorReport(target.address, target.address, (
                DoctorCheck("python", FAIL, f"{target.python} cannot run the runner ({why})",
                            python_fix(target.python)),
            ))
    return DoctorReport(target.address, _device_line(facts), tuple(checks_of(facts)))


def python_fix(python: str) -> str:
    return ("sudo apt install python3-venv && python3 -m venv ~/edgebench-venv, then pass "
            f"--python ~/edgebench-venv/bin/python (now: {python})")


def _device_line(f: dict) -> str:
    return f"{f.get('hostname') or '?'} ({f.get('machine')}, glibc {f.get('glibc') or '?'})"


def checks_of(f: dict) -> list[DoctorCheck]:
    """The checks, from the runner's ``doctor`` facts."""
    py = f.get("executable") or "python3"
    checks = []
    version = tuple(int(p) for p in (f.get("python") or "0").split(".")[:2] if p.isdigit())
    checks.append(
        DoctorCheck("python", OK, f"Python {f['python']} ({py})") if version >= MIN_PYTHON
        else DoctorCheck("python", FAIL, f"Python {f.get('python')} is older than 3.9",
                         python_fix(py))
    )
    traps = f.get("traps") or []
    numpy_trap = next((t for t in traps if "numpy" in t["fix"] and "runtime" not in t), None)
    if f.get("numpy") is None:
        checks.append(DoctorCheck("numpy", FAIL, f"not importable ({f.get('numpy_error')})",
                                  f'{py} -m pip install "numpy<2"'))
    elif numpy_trap is not None:
        checks.append(DoctorCheck("numpy", FAIL, f"numpy {f['numpy']}: {numpy_trap['problem']}",
                                  numpy_trap["fix"]))
    else:
        checks.append(DoctorCheck("numpy", OK, f"numpy {f['numpy']}"))
    broken = [t for t in traps if "runtime" in t]
    runtime = f.get("runtime")
    if broken:
        t = broken[0]
        status = WARN if runtime else FAIL  # another runtime works: benches run on that one
        also = f"; using {runtime['name']} {runtime['version']} instead" if runtime else ""
        checks.append(DoctorCheck("runtime", status, t["problem"] + also, t["fix"]))
    elif runtime is None:
        checks.append(DoctorCheck("runtime", FAIL, "no TFLite runtime is installed",
                                  f.get("install_hint")))
    else:
        checks.append(DoctorCheck("runtime", OK, f"{runtime['name']} {runtime['version']}"))
    free = (f.get("tmp") or {}).get("free_mb")
    where = (f.get("tmp") or {}).get("path")
    if free is None:
        checks.append(DoctorCheck("disk", WARN, f"free space in {where} unknown"))
    elif free < LOW_DISK_MB:
        checks.append(DoctorCheck("disk", FAIL, f"{free:,.0f} MB free in {where}",
                                  "free some space there, or point TMPDIR on the device at a "
                                  "bigger disk"))
    else:
        checks.append(DoctorCheck("disk", OK, f"{free:,.0f} MB free in {where}"))
    governor = f.get("governor")
    if governor is None:
        checks.append(DoctorCheck("governor", WARN, "not readable (no cpufreq): the clock may "
                                  "move under a bench", None))
    elif governor != "performance":
        checks.append(DoctorCheck("governor", WARN, f"{governor}: latency moves with the clock",
                                  GOVERNOR_FIX))
    else:
        checks.append(DoctorCheck("governor", OK, governor))
    temp = f.get("temperature_c")
    checks.append(
        DoctorCheck("temperature", OK, f"{temp:.1f} °C") if temp is not None
        else DoctorCheck("temperature", WARN, "no readable thermal zone: results will not "
                         "record the SoC temperature", None)
    )
    return checks


def format_doctor(report: DoctorReport) -> str:
    """One line per check, a ``fix:`` line under each problem, then the verdict."""
    width = max(len(c.name) for c in report.checks)
    lines = [f"doctor {report.target}: {report.device}"]
    for c in report.checks:
        lines.append(f"  {c.status.upper():<4}  {c.name:<{width}}  {c.found}")
        if c.fix and c.status != OK:
            lines.append(f"        {'':<{width}}  fix: {c.fix}")
    problems = report.problems
    if not problems:
        lines.append(f"doctor: {report.target} is ready to bench")
    else:
        lines.append(f"doctor: {report.target}: {len(problems)} problem(s); first fix: "
                     f"{problems[0].fix}")
    return "\n".join(lines)
