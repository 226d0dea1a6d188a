"""Strip a TFLite flatbuffer of the strings and metadata only the converter reads.

A few-kilobyte model is largely names: every tensor carries the converter's name for it
(``pruning_guide/quant_dense/MatMul;pruning_guide/quant_dense/LastValueQuant/...``), the
signature defs repeat the input and output names, and the converter appends two metadata
buffers (``min_runtime_version``, ``CONVERSION_METADATA``: the options it ran with). An
interpreter that addresses tensors by index (``get_input_details()``, what edgebench's runner,
``benchmark_model`` and most apps do) reads none of them.

:func:`strip_flatbuffer` uses TensorFlow's own ``tensorflow.lite.tools.flatbuffer_utils``
(``strip_strings``: model description, subgraph names, tensor names and the signature defs)
and also drops the two metadata entries and their buffers; it returns the new flatbuffer and a
record of what went. Without signature defs, ``Interpreter.get_signature_runner()`` has nothing
to run: a variant whose app runs signatures keeps them (``keep_signatures``; the configs refuse
``strip = true`` with ``signatures = true``, :func:`edgebench.build.sweep_config.check_strip`).
:func:`identical_outputs` runs both files on the same inputs and compares the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgebench.bench.device.runner.tensors import quantize
from edgebench.build._tf import import_flatbuffer_utils

# Metadata entries the converter writes for itself; no runtime reads them.
CONVERTER_METADATA = ("min_runtime_version", "CONVERSION_METADATA")
STRIP_VERSION = 1  # bump when what is stripped changes (it is part of cache keys)


def strip_flatbuffer(
    flatbuffer: bytes, *, keep_signatures: bool = False
) -> tuple[bytes, dict[str, Any]]:
    """The stripped flatbuffer and a record of what was removed (names, counts, bytes).

    ``keep_signatures`` keeps the signature defs (their keys and input/output names map to
    tensor indices, not tensor names), so ``get_signature_runner()`` still works.
    """
    fbu = import_flatbuffer_utils()
    model = fbu.read_model_from_bytearray(bytearray(flatbuffer))
    tensor_names = [t.name for g in model.subgraphs for t in g.tensors if t.name]
    signatures = [
        {
            "key": _text(s.signatureKey),
            "inputs": [_text(t.name) for t in s.inputs or ()],
            "outputs": [_text(t.name) for t in s.outputs or ()],
        }
        for s in model.signatureDefs or ()
    ]
    removed: dict[str, Any] = {
        "description": _text(model.description),
        "subgraph_names": [_text(g.name) for g in model.subgraphs if g.name],
        "tensor_names": len(tensor_names),
        "tensor_name_bytes": sum(len(n) for n in tensor_names),
        "signature_defs": signatures,
        "metadata": {},
    }
    kept_signatures = model.signatureDefs
    fbu.strip_strings(model)
    if keep_signatures:
        model.signatureDefs = kept_signatures
        removed["signature_defs"] = []
    kept, dropped = [], set()
    for m in model.metadata or ():
        name = _text(m.name)
        if name in CONVERTER_METADATA:
            data = model.buffers[m.buffer].data
            removed["metadata"][name] = 0 if data is None else len(data)
            dropped.add(m.buffer)
        else:
            kept.append(m)
    model.metadata = kept or None
    _drop_buffers(model, dropped)
    out = fbu.convert_object_to_bytearray(model)
    removed["bytes_before"] = len(flatbuffer)
    removed["bytes_after"] = len(out)
    return bytes(out), removed


def _drop_buffers(model: Any, dropped: set[int]) -> None:
    """Remove buffers only metadata used, renumbering every reference to the ones after."""
    used = {t.buffer for g in model.subgraphs for t in g.tensors}
    used |= {m.buffer for m in model.metadata or ()}
    gone = sorted(b for b in dropped if b not in used and b != 0)
    if not gone:
        return
    new_index = {}
    at = 0
    for i in range(len(model.buffers)):
        if i in gone:
            continue
        new_index[i] = at
        at += 1
    model.buffers = [b for i, b in enumerate(model.buffers) if i not in gone]
    for g in model.subgraphs:
        for t in g.tensors:
            t.buffer = new_index[t.buffer]
    for m in model.metadata or ():
        m.buffer = new_index[m.buffer]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def identical_outputs(a: bytes, b: bytes, inputs: np.ndarray, interpreter_cls: Any = None) -> bool:
    """Do two flatbuffers give byte-identical outputs on ``inputs`` (float samples in [0, 1])?

    Each input is fed one sample at a time, quantised for an int8 input as the runner does.
    """
    return _outputs(a, inputs, interpreter_cls) == _outputs(b, inputs, interpreter_cls)


def _outputs(flatbuffer: bytes, inputs: np.ndarray, interpreter_cls: Any) -> list[bytes]:
    interp = (interpreter_cls or Interpreter)(model_content=flatbuffer, num_threads=1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = interp.get_output_details()
    shape = [int(s) for s in inp["shape"]]
    results = []
    for x in inputs:
        x = np.asarray(x, np.float32).reshape(shape)
        interp.set_tensor(inp["index"], quantize(x, inp["dtype"], *inp["quantization"]))
        interp.invoke()
        results.append(b"".join(interp.get_tensor(o["index"]).tobytes() for o in outs))
    return results


def summary(removed: dict[str, Any]) -> str:
    """One line: what stripping removed from one file."""
    meta = ", ".join(f"{k} ({v} B)" for k, v in removed["metadata"].items()) or "no metadata"
    sigs: Sequence[dict[str, Any]] = removed["signature_defs"]
    return (
        f"{removed['tensor_names']} tensor names ({removed['tensor_name_bytes']} B), "
        f"{len(sigs)} signature def{'s' if len(sigs) != 1 else ''}, {meta}: "
        f"{removed['bytes_before']:,} -> {removed['bytes_after']:,} bytes"
    )
