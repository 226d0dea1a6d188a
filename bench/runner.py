#!/usr/bin/env python3
"""edgebench's on-device runner: measures ONE TFLite model and prints one JSON record.

This file is copied as-is to the device (a Raspberry Pi, a board, this machine). It needs only
the Python standard library (>= 3.9), numpy and a TFLite interpreter: ``ai_edge_litert``, else
``tflite_runtime``, else ``tensorflow.lite`` as a last resort. Nothing else from edgebench.

    python3 runner.py info
    python3 runner.py doctor
    python3 runner.py run --model m.tflite [--eval eval.npz] [--runs 100] [--warmup 10]
                          [--threads 1] [--no-xnnpack] [--eval-batch 256] [--eval-limit 0]
                          [--delegate lib.so [--delegate-option key=value …]]
    python3 runner.py ops --model m.tflite [--model …]
    python3 runner.py compat --model m.tflite [--model …]
    python3 runner.py delegate --delegate lib.so [--delegate-option key=value …]

Every mode prints exactly one line that starts with ``EDGEBENCH_JSON `` followed by JSON, so
that anything a library prints to stdout cannot be mistaken for the result.
"""

import argparse
import json
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
    rec["rss_mb"] = {"before": rss_mb(), "after_init": None, "peak": None}
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
        rec.update(evaluate(interp, args.eval, args.eval_batch, args.eval_limit))
    else:
        rec.update({"accuracy": None, "eval_method": None, "eval_n": None})
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


def evaluate(interp, eval_path, eval_batch=256, eval_limit=0):
    """Top-1 accuracy on an eval .npz (x, y, x_scale), batched when the input can be resized.

    Honours int8 input/output scale and zero point. Returns accuracy, eval_method, eval_n.
    """
    import numpy as np

    data = np.load(eval_path)
    x, y = data["x"], data["y"]
    x_scale = float(data["x_scale"]) if "x_scale" in data.files else 1.0
    if eval_limit:
        x, y = x[:eval_limit], y[:eval_limit]
    inp = interp.get_input_details()
    if len(inp) != 1:
        raise ModelError("accuracy needs a model with one input; this one has %d" % len(inp))
    inp = inp[0]
    sample_shape = [int(s) for s in inp["shape"][1:]]
    if int(np.prod(sample_shape)) != int(np.prod(x.shape[1:])):
        raise ModelError(
            "the model's input %s does not fit the dataset's samples %s; bench it without "
            "eval data or rebuild it for this dataset" % (list(inp["shape"]), list(x.shape[1:]))
        )
    batch = max(1, int(eval_batch))
    method = "batched(%d)" % batch if batch > 1 else "per-sample"
    try:
        interp.resize_tensor_input(inp["index"], [batch] + sample_shape, strict=False)
        interp.allocate_tensors()
    except Exception:
        batch, method = 1, "per-sample"
        interp.resize_tensor_input(inp["index"], [1] + sample_shape, strict=False)
        interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    in_dtype = np.dtype(inp["dtype"])
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    preds = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch].astype(np.float32) * x_scale
        n = len(chunk)
        if n < batch:  # pad the last batch; padded rows are ignored
            chunk = np.concatenate([chunk, np.zeros((batch - n,) + chunk.shape[1:], np.float32)])
        chunk = chunk.reshape([batch] + sample_shape)
        if in_dtype.kind in "iu" and in_scale:
            info = np.iinfo(in_dtype)
            chunk = np.clip(np.round(chunk / in_scale + in_zp), info.min, info.max)
        interp.set_tensor(inp["index"], chunk.astype(in_dtype))
        interp.invoke()
        logits = interp.get_tensor(out["index"]).reshape(batch, -1).astype(np.float32)
        if out_scale:
            logits = (logits - out_zp) * out_scale
        preds[start : start + n] = logits[:n].argmax(axis=1)
    acc = float((preds == y.astype(np.int64)).mean()) if len(x) else None
    return {"accuracy": acc, "eval_method": method, "eval_n": int(len(x))}


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
    r.add_argument("--eval", default=None, help=".npz with x, y (and x_scale)")
    r.add_argument("--runs", type=int, default=100)
    r.add_argument("--warmup", type=int, default=10)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--no-xnnpack", dest="xnnpack", action="store_false")
    r.add_argument("--eval-batch", type=int, default=256)
    r.add_argument("--eval-limit", type=int, default=0)
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
