"""Records: the one statistics factory, round-trips, schema checks, atomic writes."""

import json
from pathlib import Path

import numpy as np
import pytest

from edgebench.errors import ConfigError, SchemaError
from edgebench.files import write_json_atomic
from edgebench.records import (
    RESULTS_SCHEMA_VERSION,
    BenchSettings,
    DeviceInfo,
    Energy,
    LatencyStats,
    Record,
    Results,
    RssMb,
    Setup,
    Sustained,
    SustainedWindow,
    cpu_list,
)


def test_latency_stats_from_nanoseconds():
    ns = [1000, 2000, 3000, 4000, 100_000]
    s = LatencyStats.from_samples(ns)
    assert s.n == 5
    assert s.min == 1.0 and s.max == 100.0
    assert s.p50 == 3.0
    assert s.mean == pytest.approx(22.0)
    assert s.p90 == pytest.approx(float(np.percentile([1, 2, 3, 4, 100], 90)), abs=0.05)
    assert s.std == pytest.approx(float(np.std([1, 2, 3, 4, 100], ddof=1)), abs=0.05)


def test_latency_stats_keeps_sub_microsecond_resolution():
    s = LatencyStats.from_samples([1234, 1234, 1234])
    assert s.p50 == 1.2  # 0.1 µs resolution


def test_latency_stats_needs_samples():
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])


def _results(records=()):
    return Results(
        run_id="r1",
        created_at="2026-11-28T00:00:00+00:00",
        target="local",
        manifest=None,
        host=DeviceInfo(hostname="h", cores=2),
        device=DeviceInfo(hostname="h", cores=2, runtime_name="ai-edge-litert"),
        settings=BenchSettings(runs=5),
        git_commit=None,
        records=tuple(records),
    )


def test_results_round_trip(tmp_path):
    rec = Record(
        variant="pruned/int8",
        model_path="/x.tflite",
        status="ok",
        latency_us=LatencyStats.from_samples([1000, 2000]),
        rss_mb=RssMb(30.0, 40.0, 41.5),
        samples_us=(1.0, 2.0),
        accuracy=0.9,
    )
    res = _results([rec])
    path = tmp_path / "results-local.json"
    res.save(path)
    loaded = Results.load(path)
    assert loaded == res
    assert json.loads(path.read_text())["schema_version"] == RESULTS_SCHEMA_VERSION


def test_newer_schema_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"schema_version": RESULTS_SCHEMA_VERSION + 1}))
    with pytest.raises(SchemaError, match="upgrade edgebench"):
        Results.load(path)


def test_not_json_is_refused(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{not json")
    with pytest.raises(SchemaError, match="not a valid results JSON"):
        Results.load(path)


def test_atomic_write_keeps_the_old_file_when_serialisation_fails(tmp_path):
    path = tmp_path / "f.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"a": float("nan")})  # allow_nan=False
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left


def test_a_results_file_of_schema_1_gets_the_matrix_and_each_record_its_setup(tmp_path):
    """v1 had one thread count and one XNNPACK mode per run: the upgrade makes them lists and
    gives every record the setup it was measured with, so its key matches a new run's."""
    v1 = {"schema_version": 1, "run_id": "r", "created_at": "2025-01-01T00:00:00+00:00",
          "target": "local", "manifest": None, "host": {}, "device": {"machine": "x86_64"},
          "settings": {"runs": 5, "threads": 4, "xnnpack": False, "taskset": "f0"},
          "git_commit": None,
          "records": [{"variant": "pruned/int8", "model_path": "m", "status": "ok"}]}
    path = tmp_path / "results-local.json"
    path.write_text(json.dumps(v1))
    res = Results.load(path)
    assert res.settings.threads == (4,) and res.settings.xnnpack == (False,)
    (rec,) = res.records
    assert rec.setup == Setup(4, False, None, "f0")
    assert rec.key == "pruned/int8@threads=4,xnnpack=off,cpus=4-7"
    assert res.record("pruned/int8") is rec and res.record(rec.key) is rec


def test_a_results_file_of_schema_3_keeps_its_figures_and_gains_nulls():
    """A file the release before wrote (tests/fixtures/results/results_v3.json): every figure
    it had is kept; the memory split, the sustained run and the energy are null, and
    rss_mb.model is not made up from v3's before (read ahead of the runner's own imports)."""
    path = Path(__file__).parent / "fixtures" / "results" / "results_v3.json"
    old = json.loads(path.read_text())
    assert old["schema_version"] == 3
    res = Results.load(path)
    assert res.schema_version == RESULTS_SCHEMA_VERSION == 4
    (rec,) = res.records
    v3 = old["records"][0]["rss_mb"]
    assert rec.rss_mb == RssMb(v3["before"], v3["after_init"], v3["peak"], v3["eval_peak"])
    assert rec.rss_mb.model is None and rec.rss_mb.pss is None
    assert rec.sustained is None and rec.energy is None
    assert rec.latency_us.n == 3 and len(rec.samples_us) == 3 and rec.ok
    assert res.settings.sustained_s is None and res.settings.power is None


def test_sustained_and_energy_round_trip(tmp_path):
    windows = (SustainedWindow(0.0, 100, 10.0, 50.0, 1800.0, ()),
               SustainedWindow(1.0, 90, 11.5, None, None, ("throttled",)))
    rec = Record(variant="v", model_path="m", status="ok",
                 rss_mb=RssMb(40.0, 50.0, 52.0, None, 51.0, 11.0, 4.0, 4.1, 30.0, 25.0),
                 sustained=Sustained(2.0, 1.0, windows, 1.15, ("throttled",),
                                     unreadable={"temp_c": "x: permission denied"}),
                 energy=Energy("rapl", "counter", 0.002, 5.5, 3.5, 11.0, 4.0, 2.0, 2.0, 2000, 4))
    res = Results(run_id="r", created_at="c", target="local", manifest=None, host=DeviceInfo(),
                  device=DeviceInfo(), settings=BenchSettings(sustained_s=2.0, power="rapl"),
                  git_commit=None, records=(rec,))
    res.save(tmp_path / "r.json")
    back = Results.load(tmp_path / "r.json")
    assert back == res and back.records[0].sustained.invokes == 190
    assert back.records[0].sustained.hottest_c() == 50.0


def test_setup_labels_and_the_settings_matrix():
    s = BenchSettings(threads=(1, 2), xnnpack=(True, False), delegate="/x/libedgetpu.so.1:a=b")
    assert [x.label() for x in s.setups()] == [
        "threads=1,xnnpack=on,delegate=libedgetpu.so.1",
        "threads=1,xnnpack=off,delegate=libedgetpu.so.1",
        "threads=2,xnnpack=on,delegate=libedgetpu.so.1",
        "threads=2,xnnpack=off,delegate=libedgetpu.so.1"]
    assert BenchSettings(threads=4, xnnpack=False).threads == (4,)
    assert Setup(1, True, cpus="5").label() == "threads=1,xnnpack=on,cpus=0+2"
    assert cpu_list("f0") == "4-7" and cpu_list("3") == "0,1"
    with pytest.raises(ConfigError, match="threads must be whole numbers >= 1"):
        BenchSettings(threads=(1, 0))
