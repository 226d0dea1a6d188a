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
    python3 runner.pyz ops --model m.tflite [--model …]
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

from .errors import DelegateError, Incompatible, ModelError, first_line
from .facts import device_info, doctor_facts
from .measure import measure, parse_options
from .ops import can_load, model_ops
from .runtime import load_delegate, load_runtime

MARKER = "EDGEBENCH_JSON "


def emit(obj):
    sys.stdout.write(MARKER + json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


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
    o = sub.add_parser("ops", help="list each model's operators and versions")
    o.add_argument("--model", action="append", required=True)
    r.add_argument("--delegate", default=None, help="a TFLite delegate library (load_delegate)")
    r.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE")
    c = sub.add_parser("compat", help="check that this runtime can load each model")
    c.add_argument("--model", action="append", required=True)
    d = sub.add_parser("delegate", help="check that a delegate library loads")
    d.add_argument("--delegate", required=True)
    d.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    if args.mode == "info":
        emit(device_info())
        return 0
    if args.mode == "doctor":
        emit(doctor_facts())
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
    if args.mode == "compat":
        try:
            _, _, rt_name, rt_version = load_runtime()
        except RuntimeError as exc:
            emit({"status": "failed", "error": first_line(exc), "error_kind": "runtime"})
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
    except ModelError as exc:
        emit({"status": "failed", "error": first_line(exc), "error_kind": "input"})
        return 1
    except DelegateError as exc:
        emit({"status": "failed", "error": str(exc), "error_kind": "delegate"})
        return 1
    except RuntimeError as exc:
        emit({"status": "failed", "error": first_line(exc), "error_kind": "runtime"})
        return 1
    except Exception as exc:  # a bug or an unexpected runtime failure: keep the traceback
        traceback.print_exc()
        error = "%s: %s" % (type(exc).__name__, first_line(exc))
        emit({"status": "failed", "error": error, "error_kind": "crash"})
        return 1
