"""Output fidelity for models edgebench did not build: ``edgebench bench q.tflite --reference
f.tflite``.

The float reference runs here, on the host, through the runner's own code: on the samples of
``--reference-data`` (an .npz with ``x``, or ``x_<input>`` for several inputs, already in the
model's float domain, and optional class labels ``y``), or on seeded random inputs (uniform
in [0, 1) for float inputs). Its outputs go into evaluation shards with the inputs, and every
variant is then measured against them on its target like a build's variants are. A variant
whose inputs or outputs differ from the reference's in number or shape is refused before
anything runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgebench.bench.device.runner.evaldata import EvalData
from edgebench.bench.device.runner.tensors import model_io
from edgebench.bench.device.shards import model_outputs, write_eval_data
from edgebench.bench.orchestration.plan import BenchPlan, check_tflite_file
from edgebench.errors import EdgebenchError, ModelFileError

DEFAULT_SAMPLES = 100  # random inputs when no --reference-data is given


Interface = list[tuple[str, tuple[int, ...]]]  # (name, sample shape) of each input or output


def io_signature(path: Path) -> tuple[Interface, Interface]:
    """A model's inputs and outputs as (name, sample shape), by signature name."""
    try:
        interp = Interpreter(model_path=str(path))
    except ValueError as exc:
        raise ModelFileError(f"{path}: cannot load it as a TFLite model ({exc})") from None
    ins, outs = model_io(interp)
    shape = lambda d: tuple(int(s) for s in d["shape"][1:])  # noqa: E731
    return [(d["key"], shape(d)) for d in ins], [(d["key"], shape(d)) for d in outs]


def check_same_interface(variant: Path, reference: Path) -> None:
    """Refuse a variant whose inputs or outputs differ from the reference's in number or shape
    (by name where both name them, else in order)."""
    v_in, v_out = io_signature(variant)
    r_in, r_out = io_signature(reference)
    for what, got, want in (("inputs", v_in, r_in), ("outputs", v_out, r_out)):
        if len(got) != len(want) or not _matched_shapes(got, want):
            raise EdgebenchError(
                f"{variant.name} and the reference {reference.name} differ in their {what}: "
                f"{_fmt(got)} vs {_fmt(want)}; give the float model this variant was converted "
                "from as --reference"
            )


def _matched_shapes(got: Interface, want: Interface) -> bool:
    by_name = dict(got)
    if all(n in by_name for n, _ in want):
        return all(by_name[n] == s for n, s in want)
    return all(g[1] == w[1] for g, w in zip(got, want, strict=True))


def _fmt(items: Interface) -> str:
    return "[" + ", ".join(f"{n} {list(s)}" for n, s in items) + "]"


def reference_inputs(
    reference: Path, data: Path | None, samples: int, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The inputs to compare on (keyed by the reference's input names) and labels, if any."""
    ins, _ = io_signature(reference)
    if data is None:
        rng = np.random.default_rng(seed)
        interp = Interpreter(model_path=str(reference))
        dtypes = {d["key"]: np.dtype(d["dtype"]) for d in model_io(interp)[0]}
        out = {}
        for name, shape in ins:
            if dtypes[name].kind == "f":
                out[name] = rng.random((samples, *shape), dtype=np.float32)
            else:
                out[name] = rng.integers(0, 2, (samples, *shape)).astype(np.float32)
        return out, None
    try:
        with np.load(data, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError
        raise EdgebenchError(f"cannot read {data} as an .npz file ({exc}); rebuild it") from None
    names = [n for n, _ in ins]
    if len(names) == 1 and "x" in arrays:
        x = {names[0]: arrays["x"]}
    elif all(f"x_{n}" in arrays for n in names):
        x = {n: arrays[f"x_{n}"] for n in names}
    else:
        want = "x" if len(names) == 1 else ", ".join(f"x_{n}" for n in names)
        raise EdgebenchError(
            f"{data} lacks {want}; --reference-data needs the inputs of {reference.name} as "
            f"float arrays (N, ...): {want}, and optionally class labels y "
            f"(it has {', '.join(arrays) or 'nothing'})"
        )
    counts = {len(v) for v in x.values()}
    y = arrays.get("y")
    if len(counts) != 1 or (y is not None and len(y) not in counts):
        raise EdgebenchError(f"{data}: the arrays have different sample counts; one per sample")
    return {k: np.asarray(v, np.float32) for k, v in x.items()}, (
        None if y is None else np.asarray(y).astype(np.int64)
    )


def with_reference(
    plan: BenchPlan,
    reference: Path,
    eval_dir: Path,
    data: Path | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    eval_batch: int = 256,
) -> BenchPlan:
    """The plan with evaluation shards that hold the reference's outputs, so every variant's
    record carries fidelity figures against it."""
    if plan.manifest is not None:
        raise EdgebenchError(
            "a build's variants are already held to its own float32 reference; give "
            "--reference with .tflite files only"
        )
    reference = Path(reference)
    check_tflite_file(reference)
    for item in plan.items:
        if item.problem is None:
            check_same_interface(item.path, reference)
    x, y = reference_inputs(reference, data, samples, seed)
    interp = Interpreter(model_path=str(reference))
    outputs = model_outputs(interp, x, eval_batch)
    write_eval_data(
        eval_dir, x, dict.fromkeys(x, "none"), labels=y, reference=outputs,
        label_output=next(iter(outputs)) if y is not None else None,
        reference_name=reference.name,
    )
    items = tuple(dataclasses.replace(i, labelled=True) for i in plan.items)
    return dataclasses.replace(plan, items=items, eval_data=eval_dir)


def describe(plan: BenchPlan) -> dict[str, Any]:
    """What the plan's eval data is, from its index (for a progress line)."""
    data = EvalData(plan.eval_shards())
    return {"n": data.n_total, "reference": data.meta.get("reference")}
