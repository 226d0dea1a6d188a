"""Reading what TFLite's ``benchmark_model`` prints: the timings, the phases, the memory.

Captured outputs of both summary forms live in ``tests/fixtures/adb/``; each file's header
names the source of its format.
"""

from __future__ import annotations

import re

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_STAT = re.compile(r"\bcount=(?P<count>\d+)(?P<rest>(?:\s+\w+=" + _NUM + r")*)")
_PAIR = re.compile(r"(\w+)=(" + _NUM + r")")
_NEW = re.compile(
    rf"Inference timings in us: Init: (?P<init>{_NUM}), First inference: (?P<first>{_NUM}), "
    rf"Warmup \(avg\): (?P<warmup>{_NUM}), Inference \(avg\): (?P<inference>{_NUM})"
)
_OLD = re.compile(
    rf"Average inference timings in us: Warmup: (?P<warmup>{_NUM}), Init: (?P<init>{_NUM}), "
    rf"(?:Inference|no stats): (?P<inference>{_NUM})"
)
#: The summary line's forms, newest first, and the figure each of their groups holds.
_SUMMARIES = (("inference-timings", _NEW), ("average-inference-timings", _OLD))
_SUMMARY_KEYS = {"init": "init_us", "first": "first_inference_us", "warmup": "warmup_avg_us",
                 "inference": "inference_avg_us"}
_MEM_DELTA = re.compile(
    rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
    rf"init=(?P<init>{_NUM}) overall=(?P<overall>{_NUM})"
)
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: (?P<mb>{_NUM})")
_RUN_START = re.compile(r"Running benchmark for at least")


def parse_benchmark_output(text: str) -> dict:
    """The figures benchmark_model printed, by name; absent ones are absent (never guessed).

    Reads both summary forms, ``Inference timings in us: Init: …, First inference: …, Warmup
    (avg): …, Inference (avg): …`` and the older ``Average inference timings in us: Warmup: …,
    Init: …, Inference: …``, the per-phase ``count=… first=… curr=… min=… max=… avg=… std=…``
    lines (with `` p5=… median=… p95=…`` on newer builds), the memory footprint delta and the
    peak footprint from periodic monitoring. Lines may carry ``INFO:`` or logcat prefixes.
    """
    out: dict = {}
    for form, pattern in _SUMMARIES:
        m = pattern.search(text)
        if m:
            out["output_form"] = form
            out.update((key, float(m[group])) for group, key in _SUMMARY_KEYS.items()
                       if group in pattern.groupindex)
            break
    # Each "Running benchmark for at least …" starts a phase (warm-up, then the timed runs),
    # and the phase's statistics line follows it.
    phases = []
    for chunk in _RUN_START.split(text)[1:]:
        sm = _STAT.search(chunk)
        if sm:
            stat = {k: float(v) for k, v in _PAIR.findall(sm.group(0))}
            stat["count"] = int(stat["count"])
            phases.append(stat)
    if len(phases) >= 2:
        out["warmup_stat"], out["inference_stat"] = phases[0], phases[-1]
    m = _MEM_DELTA.search(text)
    if m:
        out["mem_delta_init_mb"] = float(m["init"])
        out["mem_delta_overall_mb"] = float(m["overall"])
    m = _PEAK.search(text)
    if m:
        out["peak_mem_mb"] = float(m["mb"])
    return out


_OP_PROFILE_RUNS = re.compile(r"Operator-wise Profiling Info for Regular Benchmark Runs")
_BY_NODE_TYPE = re.compile(r"=+ Summary by node type =+")
_ROW_NUM = re.compile(_NUM + r"%?")
_LOG_PREFIX = re.compile(r"^\s*(?:INFO:|\d\d-\d\d [\d:.]+ I/tflite\s*\(\s*\d+\):)")


def parse_op_profile(text: str) -> list[dict]:
    """The ``Summary by node type`` table of ``--enable_op_profiling=true``, per operator type:
    ``{"op", "count", "avg_ms", "percent"}``, slowest first; ``[]`` when there is none.

    benchmark_model prints a profile of its initialisation (ModifyGraphWithDelegate,
    AllocateTensors) and one of the timed runs, each with this table; the timed runs' table is
    the one after "Operator-wise Profiling Info for Regular Benchmark Runs", or the only one in
    older builds. Columns are tab- or space-aligned; a node type may contain spaces (an
    XNNPACK kernel's name), so the six numbers are read from the right.
    """
    start = _OP_PROFILE_RUNS.search(text)
    tables = list(_BY_NODE_TYPE.finditer(text, start.end() if start else 0))
    if not tables:
        return []
    rows = []
    for raw in text[tables[0].end():].splitlines()[1:]:
        line = _LOG_PREFIX.sub("", raw).strip()
        if line.startswith("["):  # the column header
            continue
        fields = line.split()
        numbers = fields[-6:]
        if len(fields) < 7 or not all(_ROW_NUM.fullmatch(f) for f in numbers):
            break  # the blank line (or "Timings …") after the table
        rows.append({"op": " ".join(fields[:-6]), "count": int(float(numbers[0])),
                     "avg_ms": float(numbers[1]), "percent": float(numbers[2].rstrip("%"))})
    return sorted(rows, key=lambda r: -r["avg_ms"])
