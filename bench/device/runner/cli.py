"""edgebench's on-device runner: measures ONE TFLite model and prints one JSON record.

The runner is this package, shipped to the device (a Raspberry Pi, a board, this machine) as one
archive, ``runner.pyz`` (see :mod:`edgebench.bench.device`). It needs only the Python standard
library (>= 3.9), numpy and a TFLite interpreter: ``ai_edge_litert``, else ``tflite_runtime``,
else ``tensorflow.lite`` as a last resort. Nothing else from edgebench.

    python3 runner.pyz info
    python3 runner.pyz doctor
    python3 runner.pyz run --model m.tflite [--eval shard-00000.npz …] [--runs 100]
                           [--warmup 10] [--threads 1] [--no-xnnpack] [--eval-batch 256]
                           [--eval-limit 0] [--delegate lib.so [--delegate-option key=value …]]
                           [--sustained SECONDS] [--power METER [--power-idle-s 2]]
                           [--xnnpack-weight-cache]
    python3 runner.pyz meter --power METER
    python3 runner.pyz weight-cache-probe --model m.tflite [--threads 1] [--cache FILE]
    python3 runner.pyz ops --model m.tflite [--model …]
    python3 runner.pyz ab --model a.tflite --model b.tflite [--rounds 4] [--round-s 0.25]
                          [--reverse] [--threads 1] [--no-xnnpack]
    python3 runner.pyz count --model m.tflite --invokes N [--threads 1] [--no-xnnpack]
    python3 runner.pyz compat --model m.tflite [--model …]
    python3 runner.pyz delegate --delegate lib.so [--delegate-option key=value …]

With ``--eval``, the model is also evaluated on the build's evaluation shards, streamed one
shard at a time so memory stays flat whatever the test set's size: accuracy where there are
labels, and output fidelity against the float32 reference model's outputs stored in the shards.

Every mode prints exactly one line that starts with ``EDGEBENCH_JSON `` followed by JSON, so
that anything a library prints to stdout cannot be mistaken for the result.
"""

import argparse
import json
import sys
import traceback

from .ab import WARMUP, ab_rounds, count_invokes
from .errors import DelegateError, Incompatible, ModelError, first_line
from .facts import device_info, doctor_facts
from .measure import measure, parse_options
from .ops import can_load, model_ops
from .power import MeterError, check_meter_spec, open_meter
from .runtime import load_delegate, load_runtime
from .weightcache import PROBE_MODE, probe

MARKER = "EDGEBENCH_JSON "


def emit(obj):
    sys.stdout.write(MARKER + json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


def seconds(text):
    """``--sustained``/``--power-idle-s``: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds > 0; got %r" % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError("expected seconds > 0; got %r" % text)
    return value


def meter_spec(text):
    try:
        return check_meter_spec(text)
    except MeterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_meter(spec):
    """Open the meter (which reads it once): what the host asks before any model runs."""
    try:
        meter = open_meter(spec)
    except MeterError as exc:
        emit({"ok": False, "error": str(exc)})
        return 1
    emit({"ok": True, "meter": spec, "kind": meter.kind})
    return 0



# The failures a record names by kind, the most specific class first; a delegate's message
# keeps all its lines (the library's own explanation), the others their first.
FAILURE_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (ModelError, "input"), (DelegateError, "delegate"), (MeterError, "meter"),
    (RuntimeError, "runtime"))
FAILURES = tuple(cls for cls, _ in FAILURE_KINDS)


def failure(exc: Exception) -> dict:
    """The record of a model run that failed in a way the runner knows (FAILURE_KINDS)."""
    kind = next(k for cls, k in FAILURE_KINDS if isinstance(exc, cls))
    error = str(exc) if kind == "delegate" else first_line(exc)
    return {"status": "failed", "error": error, "error_kind": kind}


def main(argv=None):
    parser = argparse.ArgumentParser(description="edgebench on-device runner (one model)")
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("info", help="print device and runtime facts")
    sub.add_parser("doctor", help="check what the runner needs here, with the fixes")
    r = sub.add_parser("run", help="measure one model")
    r.add_argument("--model", required=True)
    r.add_argument("--eval", nargs="+", default=None, metavar="SHARD",
                   help="the evaluation shards (shard-*.npz), in order")
    r.add_argument("--runs", type=int, default=100)
    r.add_argument("--warmup", type=int, default=10)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--no-xnnpack", dest="xnnpack", action="store_false")
    r.add_argument("--eval-batch", type=int, default=256)
    r.add_argument("--eval-limit", type=int, default=0,
                   help="evaluate a stratified subset of N samples (0 = all)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--sustained", type=seconds, default=None, metavar="SECONDS",
                   help="invoke continuously this long, in 1 s windows")
    r.add_argument("--power", type=meter_spec, default=None, metavar="METER",
                   help="energy per inference over the sustained run, from this meter")
    r.add_argument("--power-idle-s", type=seconds, default=2.0, metavar="SECONDS",
                   help="idle power is measured this long just before the energy run")
    r.add_argument("--xnnpack-weight-cache", action="store_true",
                   help="also measure what XNNPACK's weight cache saves of the model's memory")
    o = sub.add_parser("ops", help="list each model's operators and versions")
    o.add_argument("--model", action="append", required=True)
    r.add_argument("--delegate", default=None, help="a TFLite delegate library (load_delegate)")
    r.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE")
    c = sub.add_parser("compat", help="check that this runtime can load each model")
    c.add_argument("--model", action="append", required=True)
    w = sub.add_parser(PROBE_MODE, help="one model's memory through CompiledModel (with a "
                       "weight cache file): a process of --xnnpack-weight-cache's own")
    w.add_argument("--model", required=True)
    w.add_argument("--threads", type=int, default=1)
    w.add_argument("--cache", default=None)
    m = sub.add_parser("meter", help="check that an energy meter can be read")
    m.add_argument("--power", required=True, type=meter_spec, metavar="METER")
    d = sub.add_parser("delegate", help="check that a delegate library loads")
    d.add_argument("--delegate", required=True)
    d.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE")
    a = sub.add_parser("ab", help="time models side by side, interleaved, in rounds")
    a.add_argument("--model", action="append", required=True)
    a.add_argument("--rounds", type=int, default=4)
    a.add_argument("--round-s", type=float, default=0.25)
    a.add_argument("--warmup", type=int, default=WARMUP)
    a.add_argument("--reverse", action="store_true", help="BAAB instead of ABBA")
    n = sub.add_parser("count", help="invoke one model N times, untimed (for valgrind)")
    n.add_argument("--model", required=True)
    n.add_argument("--invokes", type=int, required=True)
    for p in (a, n):
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--no-xnnpack", dest="xnnpack", action="store_false")
        p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.mode == "info":
        emit(device_info())
        return 0
    if args.mode == "doctor":
        emit(doctor_facts())
        return 0
    if args.mode == "meter":
        return check_meter(args.power)
    if args.mode == PROBE_MODE:
        try:
            emit(probe(args.model, args.threads, args.cache))
        except Exception as exc:  # the parent records why, the measurement goes on
            emit({"error": "%s: %s" % (type(exc).__name__, first_line(exc))})
            return 1
        return 0
    if args.mode == "ops":
        emit({m: model_ops(m) for m in args.model})
        return 0
    if args.mode == "delegate":
        try:
            load_delegate(args.delegate, parse_options(args.delegate_option))
        except DelegateError as exc:
            emit({"loaded": False, "error": str(exc)})
            return 1
        emit({"loaded": True, "error": None})
        return 0
    if args.mode in ("ab", "count"):
        try:
            emit(dict(ab_rounds(args) if args.mode == "ab" else count_invokes(args), ok=True))
        except FAILURES as exc:
            emit(dict(failure(exc), ok=False))
            return 1
        return 0
    if args.mode == "compat":
        try:
            _, _, rt_name, rt_version = load_runtime()
        except RuntimeError as exc:
            emit(failure(exc))
            return 1
        emit({"runtime_name": rt_name, "runtime_version": rt_version,
              "models": can_load(args.model)})
        return 0
    try:
        rec = measure(args)
        rec["status"] = "ok"
        rec["error"] = None
        emit(rec)
        return 0
    except Incompatible as exc:
        _, _, rt_name, rt_version = load_runtime()
        emit({"status": "incompatible", "error": first_line(exc), "error_kind": "incompatible",
              "runtime_name": rt_name, "runtime_version": rt_version})
        return 1
    except FAILURES as exc:
        emit(failure(exc))
        return 1
    except Exception as exc:  # a bug or an unexpected runtime failure: keep the traceback
        traceback.print_exc()
        error = "%s: %s" % (type(exc).__name__, first_line(exc))
        emit({"status": "failed", "error": error, "error_kind": "crash"})
        return 1
