"""The host's half of the evaluation data: a model's outputs over whole arrays (the reference
outputs) and the shards the runner streams on the device.

Host only: never shipped. It uses the runner's own code to feed the model, so the host and the
device fill inputs and read outputs the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgebench.bench.device.runner.evaldata import EVAL_FORMAT, EVAL_FORMAT_VERSION
from edgebench.bench.device.runner.tensors import (
    get_outputs,
    match_names,
    model_io,
    resize_inputs,
    set_inputs,
)


def write_eval_shard(
    path: str | os.PathLike,
    meta: dict[str, Any],
    inputs: Mapping[str, np.ndarray],
    labels: np.ndarray | None = None,
    reference: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write one shard (the host side of the format). ``inputs``/``reference``: {name: array}."""
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for name, arr in inputs.items():
        arrays["x:" + name] = np.ascontiguousarray(arr)
    if labels is not None:
        arrays["y"] = np.asarray(labels, dtype=np.int64)
    for name, arr in (reference or {}).items():
        arrays["ref:" + name] = np.ascontiguousarray(arr, dtype=np.float32)
    with open(path, "wb") as fh:
        # numpy's stub types **kwds as allow_pickle's bool; they are arrays, by name
        np.savez(fh, **arrays)  # type: ignore[arg-type]


#: Shard size: samples are grouped so that one shard's arrays stay near this many bytes
#: (always at least one sample a shard). The runner holds one shard at a time.
SHARD_BYTES = 16 * 1024 * 1024


def write_eval_data(
    folder: str | os.PathLike,
    inputs: Mapping[str, np.ndarray],
    preprocess_modes: Mapping[str, str],
    labels: np.ndarray | None = None,
    reference: Mapping[str, np.ndarray] | None = None,
    label_output: str | None = None,
    metric: str = "top1",
    reference_name: str | None = None,
    shard_bytes: int = SHARD_BYTES,
    class_outputs: Sequence[str] | None = None,
) -> list[str]:
    """Write an evaluation set as shards into ``folder`` (replacing what is there).

    ``inputs``: {input name: raw samples (N, ...)}; ``preprocess_modes``: {input name: mode};
    ``labels``: int class labels (N,) or None; ``reference``: {output name: float32 (N, ...)}
    or None; ``class_outputs``: the outputs that are class vectors (top-1 agreement), or None
    to treat every (N, C >= 2) output as one. The folder appears complete or not at all.
    Returns the shard paths.
    """
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
            path = os.path.join(tmp, f"shard-{k:05d}.npz")
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


def model_outputs(
    interp: Any, arrays: Mapping[str, np.ndarray], eval_batch: int = 256
) -> dict[str, np.ndarray]:
    """Run a model over whole arrays (already preprocessed, keyed like its inputs); return
    its outputs keyed like its outputs. The host computes reference outputs with this."""
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
