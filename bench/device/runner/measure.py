"""Measuring one model: load it (XNNPACK, threads, a delegate), warm up, time ``invoke()``
alone with a monotonic nanosecond clock, then (when asked) invoke it for a fixed time in
windows (``--sustained``) under an energy meter (``--power``), and evaluate it when eval data
is given.

With ``--xnnpack-weight-cache`` the model's memory is also measured with XNNPACK's weight
cache (:mod:`.weightcache`).

Memory: ``rss_mb.before`` is read once everything the runner itself needs is imported and
allocated (numpy's random generator, the meter, the device-state reader, a delegate library),
just before the Interpreter is made; ``steady`` after the warm-up. Their difference,
``rss_mb.model``, is what the model costs, as a bare process that only loads and invokes it
would measure.
"""

import os
import sys
import time

from .errors import DelegateError, Incompatible, ModelError, first_line, missing_op
from .evaluate import evaluate
from .facts import cpu_affinity, peak_rss_mb, temperature_c
from .memory import model_memory, snapshot
from .power import measure_energy, open_meter
from .runtime import load_delegate, load_runtime
from .sustained import DeviceState, run_sustained
from .weightcache import measure_weight_cache

# Printed to stderr just before the accuracy pass, so the host can tell a crash there (a
# runtime bug with batched inputs, say) from one while loading or timing the model.
EVAL_MARK = "edgebench-runner: evaluating"
#: Seconds of continuous invokes that energy is measured over when --sustained is not given.
ENERGY_S = 10.0


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
    """Load, warm up and time one model; then the sustained and energy runs when asked; then
    evaluate it when eval data is given."""
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
        "sustained": None,
        "energy": None,
    }
    if not os.path.isfile(args.model):
        raise ModelError("model file %s does not exist" % args.model)
    if os.path.getsize(args.model) == 0:
        raise ModelError("model file %s is empty (0 bytes); rebuild or re-copy it" % args.model)

    rng = np.random.default_rng(args.seed)
    meter = open_meter(args.power) if args.power else None
    state = DeviceState() if (args.sustained or meter is not None) else None
    use_xnnpack = args.xnnpack
    delegate = None
    if args.delegate:
        delegate = (load_delegate(args.delegate, parse_options(args.delegate_option)),
                    os.path.basename(args.delegate))
        rec["delegate"] = args.delegate
    before = snapshot()  # the runner's own memory: everything but the model is in it now
    rec["rss_mb"] = {"before": before["rss"], "after_init": None, "steady": None, "peak": None,
                     "eval_peak": None, "model": None, "model_file": None, "model_anon": None,
                     "pss": None, "uss": None}
    while True:
        t0 = time.perf_counter_ns()
        try:
            interp, partitions = make_interpreter(args.model, args.threads, use_xnnpack,
                                                  delegate)
        except (ValueError, RuntimeError) as exc:
            if missing_op(exc):
                raise Incompatible(missing_op(exc)) from None
            loading = isinstance(exc, ValueError)  # the file; else preparing its operators
            if use_xnnpack and (not loading or _delegate_refused(exc)):
                rec["delegate_fallback"] = first_line(exc)
                use_xnnpack = False
                continue
            why = ("cannot load %s as a TFLite model (%s); re-export it with the TFLite converter"
                   if loading else
                   "the runtime cannot prepare %s (%s); the model may need a newer runtime")
            raise ModelError(why % (os.path.basename(args.model), first_line(exc))) from None
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
                rec["delegate_fallback"] = first_line(exc)
                use_xnnpack = False
                del interp
                continue
            raise ModelError(
                "invoke() failed on %s (%s)" % (args.model, first_line(exc))
            ) from None
        break

    rec["xnnpack"] = use_xnnpack
    rec["delegate_partitions"] = partitions
    rec["init_ms"] = round(init_ns / 1e6, 3)
    rec["first_inference_us"] = round(first_ns / 1e3, 1)
    rss = rec["rss_mb"]
    rss["after_init"] = snapshot()["rss"]
    for _ in range(args.warmup):
        interp.invoke()
    rec["warmup_runs"] = args.warmup
    steady = snapshot(args.model)
    rss.update(steady=steady["rss"], pss=steady["pss"], uss=steady["uss"])
    rss.update(model_memory(before, steady))
    rec["samples_ns"] = time_invokes(interp.invoke, args.runs)
    rss["peak"] = peak_rss_mb()
    rec["temp_c_after"] = temperature_c()
    if meter is not None or args.sustained:
        rec["sustained"], rec["energy"] = sustained_and_energy(interp.invoke, args, meter, state)
    rec["weight_cache"] = None
    if args.xnnpack_weight_cache:
        rec["weight_cache"] = (
            measure_weight_cache(os.path.abspath(args.model), args.threads)
            if use_xnnpack and delegate is None else
            {"error": "the weight cache is XNNPACK's; this cell runs without XNNPACK"})

    if args.eval:
        sys.stderr.write("%s in batches of %d\n" % (EVAL_MARK, args.eval_batch))
        sys.stderr.flush()
        rec.update(evaluate(interp, args.eval, args.eval_batch, args.eval_limit, args.seed))
        # The process's peak after streaming the evaluation shards (``peak`` is the model's,
        # before evaluation: budgets hold that one).
        rss["eval_peak"] = peak_rss_mb()
    else:
        rec.update({"accuracy": None, "accuracy_metric": None, "eval_method": None,
                    "eval_n": None, "eval_selection": None, "fidelity": None,
                    "reference": None})
    return rec


def sustained_and_energy(invoke, args, meter, state):
    """Invoke continuously for ``--sustained`` seconds in windows; under the meter (after its
    idle reading) when there is one, over ``ENERGY_S`` seconds when no duration was given.
    Returns (the sustained figures, the energy figures or None)."""
    seconds = args.sustained or ENERGY_S
    if meter is None:
        return run_sustained(invoke, seconds, state=state), None
    result = {}

    def loop():
        result.update(run_sustained(invoke, seconds, state=state))
        return sum(w["count"] for w in result["windows"])

    energy = measure_energy(meter, loop, idle_s=args.power_idle_s)
    return result, energy


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


def _delegate_refused(exc):
    text = str(exc).lower()
    return "delegate" in text or "xnnpack" in text
