"""--repeats: one model measured in several processes, merged into one record."""

from pathlib import Path

from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.records import BenchSettings

FIX = Path(__file__).parent / "fixtures"
FAST = BenchSettings(runs=10, warmup=1, timeout_s=60)


def test_repeats_measure_each_model_in_several_processes(tmp_path):
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    settings = BenchSettings(runs=10, warmup=1, repeats=3)
    (res,) = bench_targets(plan, tmp_path, settings, progress=lambda s: None)
    (rec,) = res.records
    assert rec.ok and rec.extra["repeats"] == 3
    assert len(rec.extra["process_p50_us"]) == 3 and all(p > 0 for p in rec.extra["process_p50_us"])
    assert len(rec.samples_us) == 30 and rec.latency_us.n == 30


def test_merge_repeats_pools_samples_and_keeps_the_worst_memory():
    from edgebench.bench.judgement.repeats import merge_repeats
    from edgebench.records import LatencyStats, Record, RssMb

    def one(p50_us, peak):
        samples = (p50_us,) * 5
        return Record(variant="m", model_path="/m", status="ok", init_ms=1.0,
                      latency_us=LatencyStats.from_samples([s * 1000 for s in samples]),
                      samples_us=samples, rss_mb=RssMb(30.0, 40.0, peak), accuracy=0.9)

    merged = merge_repeats([one(7.0, 41.0), one(7.2, 43.0), one(10.5, 42.0)])
    assert merged.extra["process_p50_us"] == [7.0, 7.2, 10.5]
    assert merged.latency_us.n == 15 and merged.rss_mb.peak == 43.0 and merged.accuracy == 0.9
    failed = Record(variant="m", model_path="/m", status="failed", error="boom")
    assert merge_repeats([one(7.0, 41.0), failed]) is failed

