"""compare: exact deltas, latency verdicts from MWU plus an effect floor, refusals, CLI."""

from __future__ import annotations

from dataclasses import replace

import pytest
from history_helpers import DEVICE, make_record, make_results, process_record

from edgebench.bench.judgement.compare import Regression, compare_runs
from edgebench.bench.judgement.compare_settings import CompareError, CompareSettings, Verdict
from edgebench.bench.judgement.history import append_results
from edgebench.bench.judgement.run_refs import comparisons_for
from edgebench.bench.outputs.compare_table import format_comparison
from edgebench.cli import main
from edgebench.records import Setup


def runs_with(variant_base, variant_cur):
    return make_results("run01", [variant_base]), make_results("run02", [variant_cur])


def test_same_distribution_is_same():
    base, cur = runs_with(make_record("m", 100.0, seed=1), make_record("m", 100.0, seed=2))
    (c,) = compare_runs(base, cur).changes
    assert c.latency.verdict is Verdict.SAME
    assert c.zip_delta_bytes == 0 and c.accuracy_delta == 0
    assert c.memory_verdict is Verdict.SAME and not c.regressed


def test_a_clear_slowdown_is_slower_and_a_speedup_faster():
    base, cur = runs_with(make_record("m", 100.0, seed=1), make_record("m", 250.0, seed=2))
    (c,) = compare_runs(base, cur).changes
    assert c.latency.verdict is Verdict.SLOWER and c.regressed
    assert c.latency.ratio == pytest.approx(2.5, rel=0.02)
    assert c.latency.p_value < 1e-10
    (c,) = compare_runs(cur, base).changes
    assert c.latency.verdict is Verdict.FASTER and not c.regressed


def test_a_significant_but_small_shift_stays_same_below_the_effect_floor():
    # 200 samples each with 3% spread: a 5% shift is wildly significant yet below the floor
    base, cur = runs_with(make_record("m", 100.0, seed=1), make_record("m", 105.0, seed=2))
    (c,) = compare_runs(base, cur).changes
    assert c.latency.p_value < 1e-6
    assert c.latency.verdict is Verdict.SAME
    strict = CompareSettings(min_effect=0.02)
    (c,) = compare_runs(base, cur, strict).changes
    assert c.latency.verdict is Verdict.SLOWER


def test_a_big_but_insignificant_shift_stays_same():
    base = make_record("m", 100.0, n=6, seed=1, spread=0.5)
    cur = make_record("m", 140.0, n=6, seed=2, spread=0.5)
    (c,) = compare_runs(*runs_with(base, cur)).changes
    assert c.latency.p_value > 0.01 and c.latency.verdict is Verdict.SAME


def test_zip_and_accuracy_are_exact_deltas_and_memory_a_ratio():
    base = make_record("m", zip_bytes=10_000, accuracy=0.9123, peak_mb=50.0)
    cur = make_record("m", zip_bytes=10_017, accuracy=0.9100, peak_mb=60.0)
    (c,) = compare_runs(*runs_with(base, cur)).changes
    assert c.zip_delta_bytes == 17
    assert c.accuracy_delta == pytest.approx(-0.0023, abs=1e-9)
    assert c.memory_ratio == pytest.approx(1.2)
    assert c.memory_verdict is Verdict.LARGER
    assert c.regressed


def test_missing_and_failed_variants_are_named_not_compared():
    failed = replace(make_record("b"), status="failed", error="segfault", samples_us=())
    base = make_results("run01", [make_record("a"), make_record("b"), make_record("gone")])
    cur = make_results("run02", [make_record("a"), failed, make_record("new")])
    cmp = compare_runs(base, cur)
    assert [c.variant for c in cmp.changes] == ["a", "b", "new", "gone"]
    assert "segfault" in cmp.change("b").note and cmp.change("b").regressed
    assert cmp.change("new").note == "new in the current run"
    assert cmp.change("gone").note == "not in the current run"
    text = format_comparison(cmp)
    assert "segfault" in text and "1 of 4 variants regressed: b" in text


def test_regressed_metrics_name_what_got_worse():
    base = make_record("m", 100.0, zip_bytes=10_000, accuracy=0.91, peak_mb=50.0, seed=1)
    worse = make_record("m", 250.0, zip_bytes=10_001, accuracy=0.90, peak_mb=60.0, seed=2)
    (c,) = compare_runs(*runs_with(base, worse)).changes
    assert c.regressed_metrics == ("latency", "zip", "accuracy", "memory") and c.regressed
    (c,) = compare_runs(*runs_with(worse, base)).changes
    assert c.regressed_metrics == () and not c.regressed
    failed = replace(base, status="failed", error="segfault", samples_us=())
    (c,) = compare_runs(*runs_with(base, failed)).changes
    assert c.regressed_metrics == (Regression.FAILED,) and c.regressed
    (c,) = compare_runs(*runs_with(failed, base)).changes
    assert c.regressed_metrics == () and not c.regressed  # fixed, not broken


def test_different_devices_or_targets_are_refused():
    other = replace(DEVICE, hostname="raspberrypi", machine="aarch64", cpu="Cortex-A72", cores=4)
    base = make_results("run01")
    with pytest.raises(CompareError, match="not comparable"):
        compare_runs(base, make_results("run02", device=other))
    with pytest.raises(CompareError, match="same target"):
        compare_runs(base, make_results("run02", target="ssh://pi"))
    # a runtime upgrade on the same device is compared, and said
    newer = replace(DEVICE, runtime_version="2.4.0")
    cmp = compare_runs(base, make_results("run02", device=newer))
    assert any("runtime changed" in n for n in cmp.notes)


def test_default_is_the_latest_run_and_the_one_before_on_the_same_device(tmp_path):
    path = tmp_path / "h.sqlite"
    other = replace(DEVICE, hostname="elsewhere")
    append_results(path, [make_results("run01", seed=0)])
    append_results(path, [make_results("run02", device=other, seed=1)])
    append_results(path, [make_results("run03", seed=2)])
    (cmp,) = comparisons_for(path, None, None, None, CompareSettings())
    assert (cmp.base.run_id, cmp.current.run_id) == ("run01", "run03")
    (cmp,) = comparisons_for(path, "latest~2", "latest", None, CompareSettings())
    assert (cmp.base.run_id, cmp.current.run_id) == ("run01", "run03")
    with pytest.raises(CompareError, match="not comparable"):
        comparisons_for(path, "run02", "run03", None, CompareSettings())


def test_cli_compare_prints_verdicts(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    append_results(path, [make_results("run01", seed=0)])
    slow = [
        make_record("base/float32", 100.0, 20_000, 0.91, seed=5),
        make_record("pruned/int8", 120.0, 6_000, 0.90, seed=6),
    ]
    append_results(path, [make_results("run02", slow)])
    assert main(["compare", "--history", str(path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(("base", "pr"))}
    # `same` says how close: within the latency floor, and peak memory within its 10%
    assert lines["base/float32"].split()[-5:] == ["within", "±25%", "1.00×", "within", "±10%"]
    assert lines["pruned/int8"].split()[-4] == "slower"
    assert "1 of 2 variants regressed: pruned/int8" in out
    assert main(["compare", "--history", str(path), "--min-effect", "250%"]) == 0
    assert "no regressions" in capsys.readouterr().out


def test_cli_compare_refusals_are_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    assert main(["compare", "--history", str(path)]) == 2
    assert "no history" in capsys.readouterr().err
    append_results(path, [make_results("run01")])
    assert main(["compare", "--history", str(path), "--fail-on-regression"]) == 0  # 1st night
    assert "run01 is the first run of local" in capsys.readouterr().out
    pi = replace(DEVICE, hostname="raspberrypi")
    append_results(path, [make_results("run02", device=pi)])
    assert main(["compare", "--history", str(path), "run01", "run02"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "raspberrypi" in err
    assert main(["compare", "--history", str(path), "nosuchrun"]) == 2
    assert "no run 'nosuchrun'" in capsys.readouterr().err


def test_cli_compare_validates_its_numbers(capsys):
    for argv in (["--alpha", "2"], ["--min-effect", "ten"]):
        with pytest.raises(SystemExit) as exc:
            main(["compare", *argv])
        assert exc.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_compare_help(cli):
    out = cli("compare", "--help").out
    for flag in ("BASE", "CURRENT", "--alpha", "--min-effect", "--history", "--target"):
        assert flag.lower() in out.lower()


def test_repeated_runs_compare_the_median_of_process_medians():
    """One of five processes in a slow state does not make a run `slower`; a real 30% does."""
    import dataclasses

    from edgebench.bench.judgement.compare_settings import CompareSettings, Verdict
    from edgebench.bench.judgement.latency import latency_change

    base = process_record([7.0, 7.1, 7.0, 7.05, 7.1])
    one_slow = process_record([7.0, 10.4, 7.1, 7.0, 7.05])
    assert latency_change(base, one_slow, CompareSettings()).verdict == Verdict.SAME
    slower = process_record([9.2, 9.1, 9.3, 9.2, 9.15])
    change = latency_change(base, slower, CompareSettings())
    assert change.verdict == Verdict.SLOWER and 1.25 < change.ratio < 1.35
    # the same 30% in single-process records is no verdict at all: one process may be slow
    single = [dataclasses.replace(r, extra={}) for r in (base, slower)]
    assert latency_change(*single, CompareSettings()).verdict == Verdict.INCONCLUSIVE


def test_emulated_latency_is_never_compared_with_a_real_device():
    """Same target, same device name: one run under qemu-user, one on the real CPU."""
    real = make_results("real")
    fake = make_results("fake", device=replace(DEVICE, emulated=True,
                                               emulation_evidence="/proc/thread-self/exe is "
                                               "/usr/bin/qemu-aarch64-static (qemu-user)"))
    for base, current in ((real, fake), (fake, real)):
        with pytest.raises(CompareError, match=r"run fake on local ran under CPU emulation "
                                               r"\(/proc/thread-self/exe.*never compared"):
            compare_runs(base, current)
    assert compare_runs(fake, replace(fake, run_id="fake2")).changes  # emulated vs emulated


def test_the_same_variant_with_other_threads_is_another_row():
    base = make_results("a", [replace(make_record("m"), setup=Setup(1, True)),
                              replace(make_record("m", seed=3), setup=Setup(4, True))])
    cur = make_results("b", [replace(make_record("m", 300.0), setup=Setup(4, True))])
    cmp = compare_runs(base, cur)
    assert [c.variant for c in cmp.changes] == ["m@threads=4,xnnpack=on",
                                                "m@threads=1,xnnpack=on"]
    assert cmp.change("m@threads=4,xnnpack=on").latency.verdict is Verdict.SLOWER
    assert cmp.change("m@threads=1,xnnpack=on").note == "not in the current run"
