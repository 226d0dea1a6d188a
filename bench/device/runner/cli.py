#!/usr/bin/env python3
"""edgebench's on-device runner: measures ONE TFLite model and prints one JSON record.

This file is copied as-is to the device (a Raspberry Pi, a board, this machine). It needs only
the Python standard library (>= 3.9), numpy and a TFLite interpreter: ``ai_edge_litert``, else
``tflite_runtime``, else ``tensorflow.lite`` as a last resort. Nothing else from edgebench.

    python3 runner.py info
    python3 runner.py doctor
    python3 runner.py run --model m.tflite [--eval shard-00000.npz …] [--runs 100]
                          [--warmup 10] [--threads 1] [--no-xnnpack] [--eval-batch 256]
                          [--eval-limit 0] [--delegate lib.so [--delegate-option key=value …]]
    python3 runner.py ops --model m.tflite [--model …]
    python3 runner.py compat --model m.tflite [--model …]
    python3 runner.py delegate --delegate lib.so [--delegate-option key=value …]

With ``--eval``, the model is also evaluated on the build's evaluation shards, streamed one
shard at a time so memory stays flat whatever the test set's size: accuracy where there are
labels, and output fidelity against the float32 reference model's outputs stored in the shards.

Every mode prints exactly one line that starts with ``EDGEBENCH_JSON `` followed by JSON, so
that anything a library prints to stdout cannot be mistaken for the result.
"""

import argparse
import json
import math
import os
import platform
import re
import socket
import sys
import threading
import time
import traceback

MARKER = "EDGEBENCH_JSON "
# Printed to stderr just before the accuracy pass, so the host can tell a crash there (a
# runtime bug with batched inputs, say) from one while loading or timing the model.
EVAL_MARK = "edgebench-runner: evaluating"


# --------------------------------------------------------------------------- runtime


#: (distribution name, import name) of the interpreters the runner can use, in order of choice.
RUNTIMES = (
    ("ai-edge-litert", "ai_edge_litert"),
    ("tflite-runtime", "tflite_runtime"),
    ("tensorflow.lite", "tensorflow"),  # last resort only: a full TensorFlow install
)


def _installed(module):
    """Whether a package is installed at all, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _dist_version(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return None


def _import_runtime(name):
    """(Interpreter, OpResolverType, version) of one runtime; raises what importing raises."""
    if name == "ai-edge-litert":
        import ai_edge_litert
        from ai_edge_litert import interpreter as mod

        version = getattr(ai_edge_litert, "__version__", None) or _dist_version(name)
        return mod.Interpreter, getattr(mod, "OpResolverType", None), version or "unknown"
    if name == "tflite-runtime":
        import tflite_runtime
        from tflite_runtime import interpreter as mod

        version = getattr(tflite_runtime, "__version__", None) or _dist_version(name)
        return mod.Interpreter, getattr(mod, "OpResolverType", None), version or "unknown"
    import tensorflow as tf

    return tf.lite.Interpreter, getattr(tf.lite.experimental, "OpResolverType", None), (
        tf.__version__)


def _why(exc):
    """One line: the exception's type and its first line (e.g. the missing library)."""
    return "%s: %s" % (type(exc).__name__, _first_line(exc))


_RUNTIME = []  # the loaded runtime, once: (Interpreter, OpResolverType, name, version)
_BROKEN = []  # runtimes that are installed but fail to import: (name, version, why)


def load_runtime():
    """Return (Interpreter class, OpResolverType or None, runtime name, runtime version).

    A runtime that is not installed is skipped; one that is installed but fails to import
    (a missing system library, a wheel built for a newer glibc, a damaged file) is remembered
    in :data:`_BROKEN` and the next one is tried, so the error that matters is not lost behind
    "not installed".
    """
    if _RUNTIME:
        return _RUNTIME[0]
    for dist, module in RUNTIMES:
        if not _installed(module):
            continue
        try:
            interpreter, resolver, version = _import_runtime(dist)
        except Exception as exc:  # ImportError, OSError, AttributeError of a half install
            if all(b[0] != dist for b in _BROKEN):
                _BROKEN.append((dist, _dist_version(dist), _why(exc)))
            continue
        _RUNTIME.append((interpreter, resolver, dist, version))
        return _RUNTIME[0]
    if _BROKEN:
        dist, version, why = _BROKEN[0]
        raise RuntimeError(
            "%s %s is installed but fails to import (%s)" % (dist, version or "", why)
        )
    raise RuntimeError(
        "no TFLite interpreter found; install one on the device: "
        "pip install ai-edge-litert (or tflite-runtime)"
    )


def glibc_version():
    """The C library's version, e.g. "2.36", or None off glibc."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        text = ""
    return text.split()[-1] if text.startswith("glibc") else None


def _version_tuple(text):
    out = []
    for part in (text or "").split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def install_hint(python=None):
    """The pip line that installs a runtime that fits this device."""
    py = python or sys.executable
    if platform.machine() in ("armv7l", "armv6l"):
        return '%s -m pip install tflite-runtime "numpy<2"' % py
    return "%s -m pip install ai-edge-litert" % py


def runtime_traps(python=None):
    """Known ways a runtime fails every model, found before any model runs: one dict per trap
    with the problem and the one command (or step) that fixes it."""
    py = python or sys.executable
    traps = []
    numpy_version = None
    try:
        import numpy

        numpy_version = numpy.__version__
    except Exception:
        pass
    try:
        _, _, name, version = load_runtime()
    except RuntimeError:
        name = version = None
    if (name == "tflite-runtime" and numpy_version
            and _version_tuple(version) and _version_tuple(version)[:2] <= (2, 14)
            and _version_tuple(numpy_version) >= (2,)):
        traps.append({
            "problem": "tflite-runtime %s was built for numpy 1 and fails every model with "
                       "numpy %s (SystemError in CreateWrapperFromFile)" % (version, numpy_version),
            "fix": '%s -m pip install "numpy<2"' % py,
        })
    for dist, dist_version, why in _BROKEN:
        label = "%s %s" % (dist, dist_version) if dist_version else dist
        if "GLIBC_" in why:
            needed = why.split("GLIBC_", 1)[1].split("'")[0].split(" ")[0]
            problem = ("%s is installed but its wheel needs glibc %s and this device has glibc "
                       "%s (%s)" % (label, needed, glibc_version() or "?", why))
            fix = ("%s -m pip uninstall -y %s && %s (or upgrade the OS; see edgebench's "
                   "README, Raspberry Pi)" % (py, dist, install_hint(py)))
        elif "cannot open shared object file" in why:
            lib = why.split(":")[1].strip() if why.count(":") >= 2 else "a system library"
            problem = "%s is installed but fails to import: %s" % (label, why)
            fix = ("install the system package that provides %s (apt-file search %s), or "
                   "%s -m pip install --force-reinstall %s" % (lib, lib, py, dist))
        else:
            problem = "%s is installed but fails to import: %s" % (label, why)
            fix = "%s -m pip install --force-reinstall %s" % (py, dist)
        traps.append({"problem": problem, "fix": fix, "runtime": dist})
    return traps


# --------------------------------------------------------------------------- device facts


def _read(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _proc_status_mb(key):
    """VmRSS / VmHWM from /proc/self/status in MB, or None off Linux."""
    text = _read("/proc/self/status")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024.0, 2)
    return None


def rss_mb():
    return _proc_status_mb("VmRSS")


def peak_rss_mb():
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(ru / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0), 2)
    except Exception:
        return None


def temperature_c():
    """The hottest thermal zone in °C (SoC temperature on a Pi), or None."""
    base = "/sys/class/thermal"
    try:
        zones = [z for z in os.listdir(base) if z.startswith("thermal_zone")]
    except OSError:
        return None
    temps = []
    for z in zones:
        raw = _read(os.path.join(base, z, "temp"))
        try:
            temps.append(int(raw) / 1000.0)
        except (TypeError, ValueError):
            continue
    return round(max(temps), 1) if temps else None


def cpu_model():
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "Processor"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def mem_total_mb():
    text = _read("/proc/meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024.0, 1)
    return None


def emulation_evidence():
    """One line of evidence that this Python runs under CPU emulation (qemu-user), else None.

    qemu-user fakes /proc/self/{exe,cmdline,stat,maps} for its guest but not the per-thread
    entries: /proc/thread-self/exe is the qemu binary (with or without binfmt_misc), and comm is
    qemu's name when it was started by hand. Last, qemu < 8 shows the host's /proc/cpuinfo, so
    x86 fields under an arm machine give it away (unless a fake cpuinfo hides them).
    """
    for link in ("/proc/thread-self/exe", "/proc/self/task/%d/exe" % threading.get_native_id()):
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if os.path.basename(target).startswith("qemu-"):
            return "%s is %s (qemu-user)" % (link, target)
        break
    comm = _read("/proc/self/comm") or ""
    if comm.startswith("qemu-"):
        return "/proc/self/comm is %s (qemu-user)" % comm
    machine = platform.machine().lower()
    if machine.startswith(("aarch64", "arm")):
        if re.search(r"^(vendor_id|flags)\s*:", _read("/proc/cpuinfo") or "", re.M):
            return "/proc/cpuinfo describes an x86 CPU while the machine is %s" % machine
    return None


def cpu_affinity():
    """The CPUs this process may run on (a taskset pin shows here), or None off Linux."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def device_info():
    """Facts about this device, in the shape of edgebench.records.DeviceInfo."""
    try:
        _, _, rt_name, rt_version = load_runtime()
    except RuntimeError:
        rt_name, rt_version = None, None
    try:
        import numpy

        np_version = numpy.__version__
    except ImportError:
        np_version = None
    evidence = emulation_evidence()
    return {
        "hostname": socket.gethostname(),
        "os": " ".join(platform.uname()),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "mem_total_mb": mem_total_mb(),
        "python": platform.python_version(),
        "runtime_name": rt_name,
        "runtime_version": rt_version,
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "temperature_c": temperature_c(),
        "emulated": evidence is not None,
        "emulation_evidence": evidence,
        "extra": {"numpy": np_version, "executable": sys.executable,
                  "cpu_affinity": cpu_affinity(), "glibc": glibc_version(),
                  "runtime_traps": runtime_traps(), "install_hint": install_hint()},
    }


# --------------------------------------------------------------------------- measuring


class ModelError(Exception):
    """A failure with a hint that names the fix."""


class Incompatible(Exception):
    """The runtime lacks an operator (or operator version) the model needs."""


class DelegateError(Exception):
    """The delegate asked for cannot load, or takes none of the model: never fall back to the
    CPU silently."""


# What TFLite runtimes say when a model needs an operator they do not have. The host parses
# the operator and version out of these lines (bench/compat.py); here they only classify.
_MISSING_OP_SIGNS = ("Didn't find op for builtin opcode", "Didn't find custom op",
                     "Encountered unresolved custom op")


def _missing_op(exc):
    """The runtime's line about a missing operator, or None when the failure is another one."""
    for line in str(exc).splitlines():
        if any(sign in line for sign in _MISSING_OP_SIGNS):
            return line.strip()
    return None


def load_delegate(path, options):
    """A TFLite delegate from a shared library (``load_delegate``), or DelegateError in one
    line. ``path`` is a file path or a library name the dynamic linker finds."""
    try:
        from ai_edge_litert.interpreter import load_delegate as load
    except ImportError:
        try:
            from tflite_runtime.interpreter import load_delegate as load
        except ImportError:
            import tensorflow as tf

            load = tf.lite.experimental.load_delegate
    try:
        return load(path, dict(options or {}))
    except (ValueError, OSError, RuntimeError) as exc:
        raise DelegateError("cannot load the delegate %s: %s" % (path, _first_line(exc))) from None


def _node_names(interp):
    """Every node's operator name (a delegate's partitions are "DELEGATE"), or None when the
    runtime does not say."""
    try:
        n = interp._interpreter.NumNodes()
        return [interp._interpreter.NodeName(i) for i in range(n)]
    except AttributeError:
        return None


def parse_options(pairs):
    """``["key=value", …]`` -> dict."""
    out = {}
    for pair in pairs or ():
        key, _, value = pair.partition("=")
        out[key] = value
    return out


def make_interpreter(model_path, threads, xnnpack, delegate=None):
    """An allocated interpreter. With ``delegate`` (a loaded delegate, its name), it must take
    at least one of the model's operators: a delegate that takes none would let the model run
    on the CPU under the delegate's name. Returns (interpreter, delegated partitions)."""
    Interpreter, OpResolverType, _, _ = load_runtime()
    kwargs = {"model_path": model_path, "num_threads": threads}
    if not xnnpack:
        if OpResolverType is None:
            raise ModelError("this runtime cannot switch XNNPACK off; run with XNNPACK on")
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    partitions = None
    if delegate is not None:
        kwargs["experimental_delegates"] = [delegate[0]]
    interp = Interpreter(**kwargs)
    if delegate is not None:
        # The delegate was applied in the constructor; XNNPACK only at allocate_tensors, so
        # every DELEGATE node now is this delegate's.
        names = _node_names(interp)
        partitions = None if names is None else names.count("DELEGATE")
        if partitions == 0:
            raise DelegateError(
                "the delegate %s took none of the model's %d operators, so it would run on the "
                "CPU; compile the model for the delegate (e.g. edgetpu_compiler) or bench "
                "without --delegate" % (delegate[1], len(names)))
    interp.allocate_tensors()
    return interp, partitions


def random_inputs(interp, rng):
    import numpy as np

    feeds = []
    for d in interp.get_input_details():
        shape = [int(s) if s > 0 else 1 for s in d["shape"]]
        dtype = np.dtype(d["dtype"])
        if dtype.kind == "f":
            arr = rng.random(shape).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            arr = rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
        elif dtype.kind == "b":
            arr = rng.random(shape) > 0.5
        else:
            raise ModelError(
                "input %r has dtype %s, which the runner cannot fill" % (d["name"], dtype)
            )
        feeds.append((d["index"], arr))
    return feeds


def measure(args):
    """Load, warm up and time one model; then evaluate it when eval data is given."""
    import numpy as np

    _, _, rt_name, rt_version = load_runtime()
    rec = {
        "runtime_name": rt_name,
        "runtime_version": rt_version,
        "threads": args.threads,
        "xnnpack": args.xnnpack,
        "delegate_fallback": None,
        "temp_c_before": temperature_c(),
        "cpu_affinity": cpu_affinity(),
    }
    rec["rss_mb"] = {"before": rss_mb(), "after_init": None, "peak": None, "eval_peak": None}
    if not os.path.isfile(args.model):
        raise ModelError("model file %s does not exist" % args.model)
    if os.path.getsize(args.model) == 0:
        raise ModelError("model file %s is empty (0 bytes); rebuild or re-copy it" % args.model)

    rng = np.random.default_rng(args.seed)
    use_xnnpack = args.xnnpack
    delegate = None
    if args.delegate:
        delegate = (load_delegate(args.delegate, parse_options(args.delegate_option)),
                    os.path.basename(args.delegate))
        rec["delegate"] = args.delegate
    while True:
        t0 = time.perf_counter_ns()
        try:
            interp, partitions = make_interpreter(args.model, args.threads, use_xnnpack,
                                                  delegate)
        except ValueError as exc:
            if _missing_op(exc):
                raise Incompatible(_missing_op(exc)) from None
            if use_xnnpack and _delegate_refused(exc):
                rec["delegate_fallback"] = _first_line(exc)
                use_xnnpack = False
                continue
            raise ModelError(
                "cannot load %s as a TFLite model (%s); re-export it with the TFLite converter"
                % (os.path.basename(args.model), _first_line(exc))
            ) from None
        except RuntimeError as exc:
            if _missing_op(exc):
                raise Incompatible(_missing_op(exc)) from None
            if use_xnnpack:
                rec["delegate_fallback"] = _first_line(exc)
                use_xnnpack = False
                continue
            raise ModelError(
                "the runtime cannot prepare %s (%s); the model may need a newer runtime"
                % (os.path.basename(args.model), _first_line(exc))
            ) from None
        init_ns = time.perf_counter_ns() - t0
        feeds = random_inputs(interp, rng)
        for index, arr in feeds:
            interp.set_tensor(index, arr)
        try:
            t0 = time.perf_counter_ns()
            interp.invoke()
            first_ns = time.perf_counter_ns() - t0
        except RuntimeError as exc:
            if use_xnnpack:
                rec["delegate_fallback"] = _first_line(exc)
                use_xnnpack = False
                del interp
                continue
            raise ModelError(
                "invoke() failed on %s (%s)" % (args.model, _first_line(exc))
            ) from None
        break

    rec["xnnpack"] = use_xnnpack
    rec["delegate_partitions"] = partitions
    rec["init_ms"] = round(init_ns / 1e6, 3)
    rec["first_inference_us"] = round(first_ns / 1e3, 1)
    rec["rss_mb"]["after_init"] = rss_mb()
    for _ in range(args.warmup):
        interp.invoke()
    rec["warmup_runs"] = args.warmup
    rec["samples_ns"] = time_invokes(interp.invoke, args.runs)
    rec["rss_mb"]["peak"] = peak_rss_mb()
    rec["temp_c_after"] = temperature_c()

    if args.eval:
        sys.stderr.write("%s in batches of %d\n" % (EVAL_MARK, args.eval_batch))
        sys.stderr.flush()
        rec.update(evaluate(interp, args.eval, args.eval_batch, args.eval_limit, args.seed))
        # The process's peak after streaming the evaluation shards (``peak`` is the model's,
        # before evaluation: budgets hold that one).
        rec["rss_mb"]["eval_peak"] = peak_rss_mb()
    else:
        rec.update({"accuracy": None, "accuracy_metric": None, "eval_method": None,
                    "eval_n": None, "eval_selection": None, "fidelity": None,
                    "reference": None})
    return rec


def time_invokes(invoke, runs):
    """Call ``invoke`` ``runs`` times; return each call's duration in ns (monotonic clock).

    The clock reads sit right around the call, with the names bound to locals, so the loop
    adds as little as Python allows (tests/benchmarks measures how little).
    """
    samples = []
    append = samples.append
    clock = time.perf_counter_ns
    for _ in range(runs):
        t = clock()
        invoke()
        append(clock() - t)
    return samples


# --------------------------------------------------------------------------- preprocessing

#: How raw samples become the model's float input. The host (build) and this runner call the
#: same function on the same stored samples, so both feed the model bitwise-identical floats:
#: every operand is float32 (numpy 1 and 2 promote float64 scalars differently), and the only
#: operations are elementwise divide and subtract, each correctly rounded whatever the SIMD
#: width or numpy version. ``x * float32(1/255)`` is NOT ``x / 255`` (it differs for 126 of the
#: 256 uint8 values), which is why both sides divide.
PREPROCESS_MODES = ("none", "unit", "symmetric", "imagenet")
_F255 = None  # float32 constants, made on first use (numpy is imported lazily here)


def _constants():
    global _F255, _F127_5, _ONE, _MEAN, _STD
    if _F255 is None:
        import numpy as np

        _F255, _F127_5, _ONE = np.float32(255.0), np.float32(127.5), np.float32(1.0)
        _MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
        _STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    return _F255, _F127_5, _ONE, _MEAN, _STD


def preprocess(x, mode):
    """Raw samples (any numeric dtype) -> float32 of the same shape, as ``mode`` says.

    ``none``: as float32; ``unit``: x/255 in [0, 1]; ``symmetric``: x/127.5 - 1 in [-1, 1]
    (MobileNet's); ``imagenet``: (x/255 - mean)/std per RGB channel (last axis of 3).
    """
    import numpy as np

    f255, f127_5, one, mean, std = _constants()
    f = np.asarray(x).astype(np.float32)
    if mode == "none":
        return f
    if mode == "unit":
        return f / f255
    if mode == "symmetric":
        return f / f127_5 - one
    if mode == "imagenet":
        if f.shape[-1:] != (3,):
            raise ModelError(
                "preprocess 'imagenet' needs 3 colour channels last; the samples are %s"
                % (list(f.shape[1:]),)
            )
        return (f / f255 - mean) / std
    raise ModelError("unknown preprocess mode %r; use one of %s" % (mode, ", ".join(
        PREPROCESS_MODES)))


# --------------------------------------------------------------------------- eval data

# The evaluation data goes to the device as shards: .npz files of at most a few MB each, so
# the runner holds one shard at a time whatever the size of the test set. A shard holds
#   meta           JSON text: format, version, shard k of K, its first sample, the inputs
#                  with their preprocessing, the label output and metric, the reference
#   x:<input>      raw samples of each model input (stored as given: uint8 images stay uint8)
#   y              int64 class labels (optional)
#   ref:<output>   the float32 reference model's outputs on the same samples (optional)
EVAL_FORMAT = "edgebench-eval"
EVAL_FORMAT_VERSION = 1


def write_eval_shard(path, meta, inputs, labels=None, reference=None):
    """Write one shard (the host side of the format). ``inputs``/``reference``: {name: array}."""
    import numpy as np

    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for name, arr in inputs.items():
        arrays["x:" + name] = np.ascontiguousarray(arr)
    if labels is not None:
        arrays["y"] = np.asarray(labels, dtype=np.int64)
    for name, arr in (reference or {}).items():
        arrays["ref:" + name] = np.ascontiguousarray(arr, dtype=np.float32)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


#: Shard size: samples are grouped so that one shard's arrays stay near this many bytes
#: (always at least one sample a shard). The runner holds one shard at a time.
SHARD_BYTES = 16 * 1024 * 1024


def write_eval_data(folder, inputs, preprocess_modes, labels=None, reference=None,
                    label_output=None, metric="top1", reference_name=None,
                    shard_bytes=SHARD_BYTES, class_outputs=None):
    """Write an evaluation set as shards into ``folder`` (replacing what is there).

    ``inputs``: {input name: raw samples (N, ...)}; ``preprocess_modes``: {input name: mode};
    ``labels``: int class labels (N,) or None; ``reference``: {output name: float32 (N, ...)}
    or None; ``class_outputs``: the outputs that are class vectors (top-1 agreement), or None
    to treat every (N, C >= 2) output as one. The folder appears complete or not at all.
    Returns the shard paths.
    """
    import shutil
    import tempfile

    import numpy as np

    names = list(inputs)
    n_total = len(inputs[names[0]])
    per_sample = sum(int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize
                     for a in inputs.values())
    per_sample += sum(int(np.prod(a.shape[1:], dtype=np.int64)) * 4
                      for a in (reference or {}).values())
    per_shard = max(1, int(shard_bytes // max(1, per_sample)))
    shards = max(1, -(-n_total // per_shard))
    folder = os.path.abspath(str(folder))
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".eval-", dir=parent)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the run folder's files are not
    base = {
        "format": EVAL_FORMAT,
        "version": EVAL_FORMAT_VERSION,
        "shards": shards,
        "n_total": n_total,
        "inputs": [{"name": nm, "preprocess": preprocess_modes[nm],
                    "dtype": str(inputs[nm].dtype), "shape": list(inputs[nm].shape[1:])}
                   for nm in names],
        "labels": labels is not None,
        "label_output": label_output,
        "metric": metric,
        "reference": reference_name,
        "reference_outputs": list(reference or {}),
        "class_outputs": None if class_outputs is None else list(class_outputs),
    }
    paths = []
    try:
        for k in range(shards):
            s, e = k * per_shard, min(n_total, (k + 1) * per_shard)
            meta = dict(base, shard=k, start=s, n=e - s)
            path = os.path.join(tmp, "shard-%05d.npz" % k)
            write_eval_shard(
                path, meta, dict((nm, inputs[nm][s:e]) for nm in names),
                None if labels is None else labels[s:e],
                dict((o, a[s:e]) for o, a in (reference or {}).items()))
            paths.append(os.path.join(folder, os.path.basename(path)))
        with open(os.path.join(tmp, "index.json"), "w") as fh:
            json.dump(dict(base, files=[os.path.basename(p) for p in paths]), fh, indent=1,
                      sort_keys=True)
        old = None
        if os.path.exists(folder):
            old = tempfile.mkdtemp(prefix=".eval-old-", dir=parent)
            os.rename(folder, os.path.join(old, "eval"))
        os.rename(tmp, folder)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return paths


def eval_shard_paths(spec):
    """The shard files of ``spec``: a folder of shards, one shard, or a list of shards."""
    if isinstance(spec, (list, tuple)):
        return [str(p) for p in spec]
    spec = str(spec)
    if os.path.isdir(spec):
        return sorted(os.path.join(spec, f) for f in os.listdir(spec)
                      if f.startswith("shard-") and f.endswith(".npz"))
    return [spec]


class EvalData(object):
    """The shards of one evaluation set, checked; labels read up front (they are small)."""

    def __init__(self, paths, need_labels=False):
        import numpy as np

        self.paths = eval_shard_paths(paths)
        if not self.paths:
            raise ModelError("no evaluation shards given; rebuild the eval data")
        self.metas = []
        for p in self.paths:
            try:
                with np.load(p, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"])) if "meta" in z.files else None
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(
                    "cannot read evaluation shard %s (%s); copy it again or rebuild the eval "
                    "data" % (os.path.basename(p), _first_line(exc))) from None
            if not meta or meta.get("format") != EVAL_FORMAT:
                raise ModelError(
                    "%s is not an edgebench evaluation shard (an eval.npz from an older "
                    "edgebench?); rebuild the eval data with edgebench build" % p)
            if int(meta.get("version", 0)) > EVAL_FORMAT_VERSION:
                raise ModelError("%s has eval format version %s, newer than this runner "
                                 "reads (%d); copy the runner of the same edgebench"
                                 % (p, meta.get("version"), EVAL_FORMAT_VERSION))
            self.metas.append(meta)
        first = self.metas[0]
        if [m["shard"] for m in self.metas] != list(range(first["shards"])):
            raise ModelError("expected %d evaluation shards in order, got shards %s; give every "
                             "shard of the eval data, in order"
                             % (first["shards"], [m["shard"] for m in self.metas]))
        self.meta = first
        self.n_total = int(first["n_total"])
        self.inputs = [i["name"] for i in first["inputs"]]
        self.preprocess = dict((i["name"], i["preprocess"]) for i in first["inputs"])
        self.has_labels = bool(first.get("labels"))
        self.reference_outputs = list(first.get("reference_outputs") or [])
        classes = first.get("class_outputs")  # None: every (N, C >= 2) output is a class vector
        self.class_outputs = None if classes is None else set(classes)
        self.labels = None
        if need_labels and self.has_labels:
            parts = []
            for p in self.paths:
                with np.load(p, allow_pickle=False) as z:
                    parts.append(z["y"])
            self.labels = np.concatenate(parts)

    def chunks(self, selected=None):
        """(inputs, labels, reference) of each shard, restricted to the ``selected`` global
        indices (sorted) or whole; one shard is in memory at a time."""
        import numpy as np

        for p, meta in zip(self.paths, self.metas):  # noqa: B905 (Python 3.9: no strict=)
            start, n = int(meta["start"]), int(meta["n"])
            rows = None
            if selected is not None:
                lo, hi = np.searchsorted(selected, [start, start + n])
                if lo == hi:
                    continue
                rows = selected[lo:hi] - start
            with np.load(p, allow_pickle=False) as z:
                inputs = dict((name, _rows(z["x:" + name], rows)) for name in self.inputs)
                labels = _rows(z["y"], rows) if self.has_labels else None
                ref = dict((o, _rows(z["ref:" + o], rows)) for o in self.reference_outputs)
            yield inputs, labels, ref
            del inputs, labels, ref  # a slice is a view: holding it would keep the shard alive


def _rows(arr, rows):
    return arr if rows is None else arr[rows]


def select_samples(labels, n_total, limit, seed=0):
    """The samples ``--eval-limit`` keeps, and a phrase saying how they were chosen.

    Returns (sorted global indices or None for all, description). With labels the subset is
    stratified: each class keeps its share (largest remainders get the leftover places), the
    samples within a class drawn with a seeded RandomState (its stream is fixed across numpy
    versions, so host and device choose the same samples). Without labels: evenly spaced.
    """
    import numpy as np

    if not limit or limit >= n_total:
        return None, "all %d samples" % n_total
    if labels is None:
        idx = (np.arange(limit, dtype=np.int64) * n_total) // limit
        return idx, "evenly spaced: %d of %d samples (no labels to stratify by)" % (
            limit, n_total)
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * float(limit) / n_total
    take = np.floor(quota).astype(np.int64)
    left = limit - int(take.sum())
    if left:
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:left]] += 1
    rs = np.random.RandomState(seed)
    picked = []
    for c, k in zip(classes, take):  # noqa: B905 (Python 3.9: no strict=)
        members = np.flatnonzero(labels == c)
        picked.append(members[rs.permutation(len(members))[:k]])
    idx = np.sort(np.concatenate(picked)).astype(np.int64)
    return idx, "stratified: %d of %d samples, %d classes in proportion, seed %d" % (
        limit, n_total, len(classes), seed)


# --------------------------------------------------------------------------- model inputs/outputs


def model_io(interp):
    """The model's inputs and outputs as lists of tensor details with a ``key`` each.

    Keys are the signature's names when the model has exactly one signature (the TFLite
    converter writes one, and its tensor order is neither the model's nor alphabetical), else
    the tensor names in index order.
    """
    try:
        sigs = interp.get_signature_list()
    except Exception:  # old runtimes
        sigs = {}
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(sigs) == 1:
        key = list(sigs)[0]
        try:
            sr = interp.get_signature_runner(key)
            by_index_in = dict((d["index"], n) for n, d in sr.get_input_details().items())
            by_index_out = dict((d["index"], n) for n, d in sr.get_output_details().items())
        except Exception:
            by_index_in, by_index_out = {}, {}
        if (set(by_index_in) == set(d["index"] for d in ins)
                and set(by_index_out) == set(d["index"] for d in outs)):
            ins = sorted(ins, key=lambda d: sigs[key]["inputs"].index(by_index_in[d["index"]]))
            outs = sorted(outs, key=lambda d: sigs[key]["outputs"].index(
                by_index_out[d["index"]]))
            for d in ins:
                d["key"] = by_index_in[d["index"]]
            for d in outs:
                d["key"] = by_index_out[d["index"]]
            return ins, outs
    for d in ins + outs:
        d["key"] = d["name"]
    return ins, outs


def match_names(wanted, have, what):
    """Map each of ``wanted`` (data or reference names) to one of ``have`` (the model's).

    By name when every wanted name is there; one to one when both have exactly one; else by
    position when the counts agree and ``what`` allows it. Raises ModelError naming both.
    """
    if all(w in have for w in wanted):
        return dict((w, w) for w in wanted)
    if len(wanted) == len(have) == 1:
        return {wanted[0]: have[0]}
    if what == "outputs" and len(wanted) == len(have):
        return dict(zip(wanted, have))  # noqa: B905 (Python 3.9: no strict=)
    raise ModelError(
        "the model's %s are %s but the eval data has %s; rebuild the eval data for this model"
        % (what, have, wanted))


def _sample_shape(detail):
    return [int(s) for s in detail["shape"][1:]]


def resize_inputs(interp, ins, batch):
    """Resize every input to ``batch`` samples; on failure fall back to one sample a call.

    Returns (batch, method).
    """
    try:
        for d in ins:
            interp.resize_tensor_input(d["index"], [batch] + _sample_shape(d), strict=False)
        interp.allocate_tensors()
        return batch, ("batched(%d)" % batch if batch > 1 else "per-sample")
    except Exception:
        for d in ins:
            interp.resize_tensor_input(d["index"], [1] + _sample_shape(d), strict=False)
        interp.allocate_tensors()
        return 1, "per-sample"


def set_inputs(interp, ins, arrays, batch):
    """Feed float (or raw integer) arrays by key: reshape to the model's sample shape, pad the
    last batch with zeros, quantise where the input is integer with a scale."""
    import numpy as np

    for d in ins:
        arr = arrays[d["key"]]
        n = len(arr)
        shape = _sample_shape(d)
        if int(np.prod(shape)) != int(np.prod(arr.shape[1:])):
            raise ModelError(
                "the model's input %r takes samples %s but the eval data has %s; bench it "
                "without eval data or rebuild it for this model"
                % (d["key"], shape, list(arr.shape[1:])))
        arr = arr.reshape([n] + shape)
        dtype = np.dtype(d["dtype"])
        scale, zp = d["quantization"]
        if dtype.kind in "iu" and scale:
            info = np.iinfo(dtype)
            arr = np.clip(np.round(arr / np.float32(scale) + zp), info.min, info.max)
        arr = arr.astype(dtype, copy=False)
        if n < batch:
            arr = np.concatenate([arr, np.zeros([batch - n] + shape, dtype)])
        interp.set_tensor(d["index"], arr)


def get_outputs(interp, outs, n):
    """Every output's first ``n`` rows as float32, int8/uint8 outputs dequantised."""
    return dict((d["key"], dequantize(interp.get_tensor(d["index"])[:n], *d["quantization"]))
                for d in outs)


def dequantize(q, scale, zero_point):
    """Quantised values -> float32 ((q - zero_point) * scale); float passes through."""
    import numpy as np

    q = np.asarray(q)
    if not scale or q.dtype.kind == "f":
        return q.astype(np.float32)
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def model_outputs(interp, arrays, eval_batch=256):
    """Run a model over whole arrays (already preprocessed, keyed like its inputs); return
    its outputs keyed like its outputs. The host computes reference outputs with this."""
    import numpy as np

    ins, outs = model_io(interp)
    mapping = match_names(list(arrays), [d["key"] for d in ins], "inputs")
    feeds = dict((mapping[k], v) for k, v in arrays.items())
    n_total = len(next(iter(feeds.values())))
    batch, _ = resize_inputs(interp, ins, max(1, int(eval_batch)))
    ins, outs = model_io(interp)
    parts = dict((d["key"], []) for d in outs)
    for s in range(0, n_total, batch):
        chunk = dict((k, v[s:s + batch]) for k, v in feeds.items())
        n = len(next(iter(chunk.values())))
        set_inputs(interp, ins, chunk, batch)
        interp.invoke()
        for k, v in get_outputs(interp, outs, n).items():
            parts[k].append(v)
    return dict((k, np.concatenate(v) if v else np.zeros((0,), np.float32))
                for k, v in parts.items())


# --------------------------------------------------------------------------- fidelity


class Fidelity(object):
    """How far one output of a model is from the reference model's, accumulated batch by
    batch (nothing is kept per sample): max and mean |Δ|, mean per-sample cosine similarity,
    SNR in dB (signal: the reference), and top-1 agreement where the output is a class vector.
    """

    def __init__(self, name, class_vector=None):
        self.name = name
        self.is_class = class_vector  # None: decided by the shape, (N, C >= 2)
        self.n = 0
        self.elements = 0
        self.max_abs = 0.0
        self.sum_abs = 0.0
        self.sum_cos = 0.0
        self.signal = 0.0
        self.noise = 0.0
        self.agree = 0
        self.class_vector = None

    def add(self, ref, out):
        import numpy as np

        if ref.shape != out.shape:
            raise ModelError(
                "output %r has shape %s but the reference's has %s; compare models with the "
                "same outputs" % (self.name, list(out.shape[1:]), list(ref.shape[1:])))
        n = len(ref)
        if not n:
            return
        a = ref.reshape(n, -1).astype(np.float64)
        b = out.reshape(n, -1).astype(np.float64)
        d = np.abs(a - b)
        self.max_abs = max(self.max_abs, float(d.max()))
        self.sum_abs += float(d.sum())
        self.elements += d.size
        na, nb = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
        dot = (a * b).sum(axis=1)
        both_zero = (na == 0) & (nb == 0)
        denom = np.where(na * nb == 0, 1.0, na * nb)
        cos = np.where(both_zero, 1.0, np.where(na * nb == 0, 0.0, dot / denom))
        self.sum_cos += float(cos.sum())
        self.signal += float((a * a).sum())
        self.noise += float(((a - b) ** 2).sum())
        by_shape = ref.ndim == 2 and ref.shape[1] >= 2
        self.class_vector = by_shape if self.is_class is None else (self.is_class and by_shape)
        if self.class_vector:
            self.agree += int((ref.argmax(axis=1) == out.argmax(axis=1)).sum())
        self.n += n

    def result(self):
        """A JSON-ready dict. ``snr_db`` is None when it is not finite: identical outputs
        (``max_abs`` 0: +inf) or an all-zero reference (-inf)."""
        snr = None
        if self.noise > 0 and self.signal > 0:
            snr = round(10.0 * math.log10(self.signal / self.noise), 3)
        return {
            "output": self.name,
            "n": self.n,
            "max_abs": float("%.6g" % self.max_abs),
            "mean_abs": float("%.6g" % (self.sum_abs / self.elements)) if self.elements else 0.0,
            "cosine": round(self.sum_cos / self.n, 7) if self.n else None,
            "snr_db": snr,
            "top1_agreement": (round(self.agree / float(self.n), 6)
                               if self.class_vector and self.n else None),
        }


# --------------------------------------------------------------------------- evaluation


def _metric_k(metric):
    metric = metric or "top1"
    if not (metric.startswith("top") and metric[3:].isdigit() and int(metric[3:]) >= 1):
        raise ModelError("unknown accuracy metric %r; use top1, top5, ... (topK)" % metric)
    return int(metric[3:])


def evaluate(interp, eval_paths, eval_batch=256, eval_limit=0, seed=0):
    """Accuracy and output fidelity of a model on evaluation shards, streamed shard by shard.

    Accuracy (top-k as the eval data's metric says) needs labels; fidelity against the
    reference model needs reference outputs; either may be absent. ``eval_limit`` keeps a
    stratified subset (see :func:`select_samples`). Honours int8 scale and zero point on every
    input and output. Returns accuracy, accuracy_metric, eval_method, eval_n, eval_selection,
    fidelity (a list, one entry per output) and reference.
    """
    import numpy as np

    data = EvalData(eval_paths, need_labels=bool(eval_limit))
    meta = data.meta
    selected, how = select_samples(data.labels, data.n_total, eval_limit, seed)
    ins, outs = model_io(interp)
    in_map = match_names(data.inputs, [d["key"] for d in ins], "inputs")
    out_keys = [d["key"] for d in outs]
    ref_map = match_names(data.reference_outputs, out_keys, "outputs") if (
        data.reference_outputs) else {}
    label_output = None
    if data.has_labels:
        wanted = meta.get("label_output")
        label_output = ref_map.get(wanted) or (wanted if wanted in out_keys else None)
        if label_output is None:
            label_output = out_keys[0]
    k = _metric_k(meta.get("metric"))
    batch, method = resize_inputs(interp, ins, max(1, int(eval_batch)))
    ins, outs = model_io(interp)
    fid = [Fidelity(o, None if data.class_outputs is None else o in data.class_outputs)
           for o in data.reference_outputs]
    n = correct = 0
    for inputs, labels, ref in data.chunks(selected):
        m = len(next(iter(inputs.values())))
        for s in range(0, m, batch):
            feeds = dict((in_map[name], preprocess(arr[s:s + batch], data.preprocess[name]))
                         for name, arr in inputs.items())
            b = len(next(iter(feeds.values())))
            set_inputs(interp, ins, feeds, batch)
            interp.invoke()
            got = get_outputs(interp, outs, b)
            for f in fid:
                f.add(ref[f.name][s:s + b], got[ref_map[f.name]])
            if labels is not None:
                scores = got[label_output].reshape(b, -1)
                y = labels[s:s + b].astype(np.int64)
                if k == 1:
                    hit = scores.argmax(axis=1) == y
                else:
                    kk = min(k, scores.shape[1])
                    top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
                    hit = (top == y[:, None]).any(axis=1)
                correct += int(hit.sum())
            n += b
            del feeds, got
        # Let go of this shard before the next one loads: a batch is a view, and holding the
        # last one would keep two shards in memory at once.
        del inputs, labels, ref
    return {
        "accuracy": (correct / float(n)) if (data.has_labels and n) else None,
        "accuracy_metric": ("top%d" % k) if data.has_labels else None,
        "eval_method": method,
        "eval_n": int(n),
        "eval_selection": how,
        "fidelity": [f.result() for f in fid] or None,
        "reference": meta.get("reference") if fid else None,
    }


def _delegate_refused(exc):
    text = str(exc).lower()
    return "delegate" in text or "xnnpack" in text


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- operators


def model_ops(path):
    """The (builtin or custom) operators of a .tflite file with their versions."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tflite_runtime import schema_py_generated as schema  # not in every build
        except ImportError:
            return None
    with open(path, "rb") as fh:
        buf = fh.read()
    model = schema.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = names.get(code, str(code))
        if name == "CUSTOM" and oc.CustomCode():
            name = oc.CustomCode().decode()
        ops.append({"name": name, "version": oc.Version()})
    return ops


def can_load(paths):
    """For each model: does this runtime load it? Builds each interpreter once, runs nothing.

    Returns {path: {"loaded": bool, "missing_op": line or None, "error": line or None}}. A model
    that fails for a reason other than a missing operator is reported with ``loaded: None``:
    the per-model run will say what is wrong with it.
    """
    Interpreter, _, _, _ = load_runtime()
    out = {}
    for path in paths:
        try:
            interp = Interpreter(model_path=path)
            interp.allocate_tensors()
            del interp
            out[path] = {"loaded": True, "missing_op": None, "error": None}
        except Exception as exc:  # every failure is reported, none is fatal
            line = _missing_op(exc)
            out[path] = {
                "loaded": False if line else None,
                "missing_op": line,
                "error": _first_line(exc),
            }
    return out


# --------------------------------------------------------------------------- doctor


def doctor_facts():
    """What ``edgebench doctor`` checks, as found on this device: Python, numpy, each runtime
    (installed? imports? version), glibc, free disk in this (the temporary) folder, the
    frequency governor, a readable temperature, and the known runtime traps with their fixes."""
    import shutil

    facts = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "machine": platform.machine(),
        "glibc": glibc_version(),
        "hostname": socket.gethostname(),
    }
    try:
        import numpy

        facts["numpy"], facts["numpy_error"] = numpy.__version__, None
    except Exception as exc:
        facts["numpy"], facts["numpy_error"] = None, _why(exc)
    try:
        _, _, name, version = load_runtime()
        facts["runtime"] = {"name": name, "version": version}
    except RuntimeError as exc:
        facts["runtime"], facts["runtime_error"] = None, _first_line(exc)
    facts["runtimes"] = [
        {"name": dist, "installed": _installed(module),
         "version": _dist_version("tensorflow" if module == "tensorflow" else dist)}
        for dist, module in RUNTIMES if dist != "tensorflow.lite" or _installed(module)
    ]
    try:
        usage = shutil.disk_usage(os.getcwd())
        facts["tmp"] = {"path": os.getcwd(), "free_mb": round(usage.free / 2**20, 1)}
    except OSError:
        facts["tmp"] = {"path": os.getcwd(), "free_mb": None}
    facts["governor"] = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    facts["temperature_c"] = temperature_c()
    facts["install_hint"] = install_hint()
    facts["traps"] = runtime_traps()
    return facts


# --------------------------------------------------------------------------- entry


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
            emit({"status": "failed", "error": _first_line(exc), "error_kind": "runtime"})
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
        emit({"status": "incompatible", "error": _first_line(exc), "error_kind": "incompatible",
              "runtime_name": rt_name, "runtime_version": rt_version})
        return 1
    except ModelError as exc:
        emit({"status": "failed", "error": _first_line(exc), "error_kind": "input"})
        return 1
    except DelegateError as exc:
        emit({"status": "failed", "error": str(exc), "error_kind": "delegate"})
        return 1
    except RuntimeError as exc:
        emit({"status": "failed", "error": _first_line(exc), "error_kind": "runtime"})
        return 1
    except Exception as exc:  # a bug or an unexpected runtime failure: keep the traceback
        traceback.print_exc()
        error = "%s: %s" % (type(exc).__name__, _first_line(exc))
        emit({"status": "failed", "error": error, "error_kind": "crash"})
        return 1


if __name__ == "__main__":
    sys.exit(main())
