"""Two models side by side in one process: ``ab`` times them interleaved, ``count`` only
invokes one (for an instruction counter such as valgrind to count around it).

``ab`` loads every model given, warms each up, then measures rounds. In a round the models
are invoked one call at a time in ABBA order (A B B A, repeated until the round has lasted
``--round-s``), so a burst of load from another tenant, a frequency step or heat falls on both
models alike; the round reports each model's median invoke time. The host takes the ratio
within each round. ``--reverse`` starts each quad with the second model (BAAB), so the host can
alternate the order from one process to the next and cancel what the order itself costs.
"""

import time

from .measure import make_interpreter, random_inputs

#: invokes of each model before the first round: the first calls pay for allocation and caches
WARMUP = 10
#: quads (ABBA) in a round however short --round-s is, so a round's median has 2x this samples
MIN_QUADS = 3


def _loaded(path, threads, xnnpack, rng):
    interp, _ = make_interpreter(path, threads, xnnpack)
    for index, arr in random_inputs(interp, rng):
        interp.set_tensor(index, arr)
    return interp


def _median(values):
    values = sorted(values)
    n = len(values)
    mid = n // 2
    return float(values[mid]) if n % 2 else (values[mid - 1] + values[mid]) / 2.0


def ab_rounds(args):
    """``{"rounds": [[median ns of each model], …], "invokes": [per model per round]}``."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    interps = [_loaded(m, args.threads, args.xnnpack, rng) for m in args.model]
    for interp in interps:
        for _ in range(args.warmup):
            interp.invoke()
    clock = time.perf_counter_ns
    order = list(range(len(interps)))
    if args.reverse:
        order.reverse()
    quad = order + order[::-1]
    rounds = []
    invokes = 0
    for _ in range(args.rounds):
        times = [[] for _ in interps]
        start = clock()
        quads = 0
        while quads < MIN_QUADS or clock() - start < args.round_s * 1e9:
            for i in quad:
                t0 = clock()
                interps[i].invoke()
                times[i].append(clock() - t0)
            quads += 1
        invokes = quads * 2
        rounds.append([_median(t) for t in times])
    return {"rounds": rounds, "invokes_per_round": invokes}


def count_invokes(args):
    """Load one model and invoke it ``--invokes`` times, untimed: the difference between two
    such processes' instruction counts is what the extra invokes cost."""
    import numpy as np

    interp = _loaded(args.model, args.threads, args.xnnpack, np.random.default_rng(args.seed))
    for _ in range(args.invokes):
        interp.invoke()
    return {"invokes": args.invokes}
