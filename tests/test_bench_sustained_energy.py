"""edgebench bench --sustained and --power on this machine, end to end: the record, the summary,
the report's plot and the gate's rules; the refusals of bad input (one line, exit 2, nothing
written as if it had been measured). This VM has no RAPL, thermal zone or cpufreq: a meter
program (cmd:) stands in for a meter, and the device state is null with its reasons."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from edgebench.records import Results

FIX = Path(__file__).parent / "fixtures"
MODEL = FIX / "tiny_float32.tflite"


def results(out: Path) -> Results:
    (path,) = [p for p in out.glob("*/results-local.json") if p.parent.name != "latest"]
    return Results.load(path)


def meter_program(folder: Path, fail_after: int | None = None) -> Path:
    """A meter for cmd:: joules = 1 W x wall time + 5 J per CPU second of its caller (the
    runner), so the idle power is 1 W and a busy run draws more. With ``fail_after`` it stops
    answering (exit 1) from that call on."""
    calls = folder / "calls"
    calls.write_text("0")
    path = folder / "meter.py"
    path.write_text(
        "import os, sys, time\n"
        f"calls, fail_after = {str(calls)!r}, {fail_after!r}\n"
        "n = int(open(calls).read()) + 1\n"
        "open(calls, 'w').write(str(n))\n"
        "if fail_after is not None and n >= fail_after:\n"
        "    sys.exit('meter unplugged')\n"
        "stat = open('/proc/%d/stat' % os.getppid()).read().rsplit(')', 1)[1].split()\n"
        "cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf('SC_CLK_TCK')\n"
        "print(1.0 * time.time() + 5.0 * cpu_s)\n"
    )
    return path


def test_a_sustained_run_gives_its_windows_everywhere(cli, tmp_path):
    """3 s: three windows with every field, the ratio from them, the summary's table, the
    report's plot, and the gate's rule on the ratio."""
    out = tmp_path / "out"
    run = cli("bench", MODEL, "--sustained", "3", "--runs", "5", "--repeats", "2",
              "--out", out, "--history", tmp_path / "h.sqlite")
    assert run.code == 0, run.err
    (rec,) = results(out).records
    s = rec.sustained
    assert len(s.windows) == 3 and s.seconds == 3.0 and rec.energy is None
    assert s.ratio == round(s.windows[-1].p50_us / s.windows[0].p50_us, 4)
    assert all(w.count > 0 and w.temp_c is None for w in s.windows)
    assert set(s.unreadable) == {"temp_c", "freq_mhz", "throttled"}
    assert rec.extra["repeats"] == 2 and rec.latency_us.n == 10  # both processes timed
    assert "sustained speed" in run.out and f"{s.ratio:.3f}" in run.out
    assert rec.rss_mb.model > 0 and "model MiB" in run.out
    html = tmp_path / "report.html"
    assert cli("report", "--history", tmp_path / "h.sqlite", "--out", html).code == 0
    page = html.read_text()
    assert 'alt="local sustained speed"' in page and "Memory of the model" in page
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[budgets."*"]\nmax_sustained_ratio = 100\nmax_model_rss_mb = 200\n')
    gate = cli("gate", out / "latest", "--budgets", budgets)
    assert gate.code == 0 and f"sustained_ratio {s.ratio:g} <= 100" in gate.out
    budgets.write_text('[budgets."*"]\nmax_sustained_ratio = 0.001\n')
    assert cli("gate", out / "latest", "--budgets", budgets).code == 1


@pytest.mark.slow
def test_twenty_seconds_give_at_least_fifteen_windows_and_a_plot(cli, tmp_path):
    """The issue's check: --sustained 20 gives at least 15 windows and a ratio, plotted."""
    out = tmp_path / "out"
    assert cli("bench", MODEL, "--sustained", "20", "--repeats", "1", "--out", out,
               "--no-history").code == 0
    (rec,) = results(out).records
    assert len(rec.sustained.windows) >= 15 and rec.sustained.ratio is not None
    html = tmp_path / "r.html"
    assert cli("report", out / "latest", "--out", html).code == 0
    assert 'alt="local sustained speed"' in html.read_text()


def test_energy_from_an_external_meter_program(cli, tmp_path):
    """cmd:PROGRAM end to end: idle power first (1 W), then the run under the meter; J per
    inference is the energy above idle over the invokes of the run."""
    program = meter_program(tmp_path)
    out = tmp_path / "out"
    run = cli("bench", MODEL, "--power", f"cmd:{sys.executable} {program}", "--sustained", "2",
              "--power-idle-s", "1", "--repeats", "2", "--runs", "5", "--out", out,
              "--no-history")
    assert run.code == 0, run.err
    (rec,) = results(out).records
    e = rec.energy
    assert e.meter == f"cmd:{sys.executable} {program}" and e.meter_kind == "counter"
    assert e.idle_w == pytest.approx(1.0, abs=0.3) and e.mean_w > e.idle_w
    assert e.invokes == rec.sustained.invokes and e.j_per_inference > 0
    assert e.j_per_inference == pytest.approx(e.net_energy_j / e.invokes)
    # (idle_w is kept to 4 decimals)
    assert e.net_energy_j == pytest.approx(e.energy_j - e.idle_w * e.run_s, abs=1e-3)
    # the meter read at the host's check and the device's, the runner's open, the idle and
    # run starts and ends: once per model, the repeat process times only
    assert int((tmp_path / "calls").read_text()) == 7
    assert "mJ/inference" in run.out
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[budgets."*"]\nmax_j_per_inference = 1e-12\n')
    gate = cli("gate", out / "latest", "--budgets", budgets)
    assert gate.code == 1 and "j_per_inference" in gate.out


def test_power_rapl_on_a_machine_without_rapl_is_one_line(cli, tmp_path):
    """This machine is the device: its meter is opened before anything runs, so the refusal
    is the one line and no results file is written."""
    out = tmp_path / "out"
    run = cli("bench", MODEL, "--power", "rapl", "--out", out, "--no-history")
    run.error_line("local: --power rapl: no RAPL energy counters on this machine",
                   "looked for /sys/class/powercap/intel-rapl:*/energy_uj", "no model was run")
    assert "target failed" not in run.err and not list(out.glob("*/results-*.json"))


def test_a_meter_that_stops_mid_run_stops_the_target_with_one_line(cli, tmp_path):
    program = meter_program(tmp_path, fail_after=7)  # the end of the first model's run
    out = tmp_path / "out"
    run = cli("bench", MODEL, FIX / "tiny_int8.tflite", "--power",
              f"cmd:{sys.executable} {program}", "--sustained", "1", "--power-idle-s", "0.5",
              "--repeats", "1", "--out", out, "--no-history")
    run.error_line("the meter stopped answering during the run", "meter unplugged",
                   "the target stopped at this model")
    res = results(out)
    assert [r.status for r in res.records] == ["failed", "failed"]
    assert all(r.error.startswith("not run:") and r.energy is None and r.latency_us is None
               for r in res.records)


@pytest.mark.parametrize("argv, words", [
    (["--sustained", "0"], ["argument --sustained", "expected a number > 0; got 0.0"]),
    (["--sustained", "-5"], ["argument --sustained", "> 0"]),
    (["--sustained", "ten"], ["argument --sustained", "got 'ten'"]),
    (["--power", "joulescope"], ["unknown meter 'joulescope'", "rapl, pi5-pmic, hwmon:NAME"]),
    (["--power", "hwmon:"], ["hwmon: needs a sensor's name"]),
    (["--power-idle-s", "0"], ["argument --power-idle-s"]),
])
def test_bad_values_are_refused_where_they_enter(cli, tmp_path, argv, words):
    cli("bench", MODEL, *argv, "--out", tmp_path / "out").error_line(*words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("line, words", [
    ("sustained_s = 0", ["bench.sustained_s must be > 0"]),
    ('sustained_s = "ten"', ["bench.sustained_s must be a number"]),
    ('power = "joulescope"', ["bench.power: unknown meter 'joulescope'"]),
])
def test_bad_toml_values_are_one_line(cli, tmp_path, line, words):
    config = tmp_path / "pipeline.toml"
    config.write_text(f"schema_version = 1\n[bench]\n{line}\n")
    cli("bench", MODEL, "--config", config, "--out", tmp_path / "out").error_line(*words)
    assert not (tmp_path / "out").exists()


def test_the_json_summary_carries_the_new_figures(cli, tmp_path):
    run = cli("bench", MODEL, "--sustained", "1", "--repeats", "1", "--format", "json",
              "--out", tmp_path / "out", "--no-history")
    (row,) = json.loads(run.out)["results"][0]["records"]
    assert row["model_rss_mb"] > 0 and row["pss_mb"] > 0 and row["uss_mb"] > 0
    assert "sustained_ratio" in row and row["j_per_inference"] is None
    assert re.search(r"\d", str(row["model_rss_mb"]))


def test_the_weight_cache_reaches_the_record_and_the_summary(cli, tmp_path):
    """Only the cells with XNNPACK measure it, and only the first process of a model."""
    out = tmp_path / "out"
    run = cli("bench", MODEL, "--xnnpack-weight-cache", "--xnnpack", "on,off", "--repeats", "2",
              "--runs", "5", "--out", out, "--no-history")
    assert run.code == 0, run.err
    on, off = results(out).records
    assert on.weight_cache.api == "CompiledModel" and on.weight_cache.error is None
    assert off.weight_cache is None
    assert "what XNNPACK's weight cache saves" in run.out and "with cache MiB" in run.out
