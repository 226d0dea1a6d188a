"""Facts about built artifacts: zipped size, parameter counts, per-layer sparsity.

Zipped size is :func:`edgebench.files.zip_bytes` (the one file in a ZIP_DEFLATED archive, as
the pruning guide measures, under a fixed entry name). Keras facts come from the model's
weights. TFLite facts come from the flatbuffer itself (``ai_edge_litert``'s schema), not from
an interpreter: a parameter is an element of a constant tensor (a tensor with data in the
file). Integer constants (int32, int64) count only as biases of CONV_2D, DEPTHWISE_CONV_2D and
FULLY_CONNECTED, so shape operands such as RESHAPE's are not parameters. Quantised elements are
zero when they equal the tensor's zero point. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert import schema_py_generated as schema

_BIAS_OPS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2}


@dataclass(frozen=True)
class WeightFacts:
    """Parameter counts and the fraction of zeros of each kernel (weights with >= 2 dims)."""

    params: int
    nonzero_params: int
    layer_sparsity: dict[str, float]


def sparsity(array: np.ndarray, zero: Any = 0) -> float:
    """Fraction of elements equal to ``zero``."""
    arr = np.asarray(array)
    return float(np.mean(arr == zero)) if arr.size else 0.0


def keras_facts(model: Any) -> WeightFacts:
    """Counts over a tf_keras model's weights; sparsity per layer with a kernel."""
    params = nonzero = 0
    layers: dict[str, float] = {}
    for layer in _flat_layers(model):
        kernels = []
        for w in layer.weights:
            value = np.asarray(w.numpy())
            params += value.size
            nonzero += int(np.count_nonzero(value))
            if value.ndim >= 2:
                kernels.append(value.reshape(-1))
        if kernels:
            layers[layer.name] = round(sparsity(np.concatenate(kernels)), 6)
    return WeightFacts(params, nonzero, layers)


def _flat_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.extend(_flat_layers(layer) if hasattr(layer, "layers") else [layer])
    return out


_NP_TYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
}


def tflite_facts(path: Path) -> WeightFacts:
    """Counts over the constant tensors of a .tflite file; sparsity per constant kernel."""
    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAsModel(buf, 0)
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    params = nonzero = 0
    layers: dict[str, float] = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        biases = set()
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            name = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            if name in _BIAS_OPS and op.InputsLength() > _BIAS_OPS[name]:
                biases.add(int(op.Inputs(_BIAS_OPS[name])))
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            data = _buffer_data(buf, model.Buffers(tensor.Buffer()))
            if data is None:
                continue
            tname = type_names.get(tensor.Type(), "")
            if tname not in _NP_TYPES or (tname in ("INT32", "INT64") and t not in biases):
                continue
            values = np.frombuffer(data, dtype=_NP_TYPES[tname])
            shape = [int(s) for s in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
            if int(np.prod(shape)) == values.size:
                values = values.reshape(shape)
            zero = _zero_point(tensor, values.ndim) if tname in ("INT8", "UINT8", "INT16") else 0
            params += values.size
            nonzero += int(np.count_nonzero(values != zero))
            if tensor.ShapeLength() >= 2:
                # A stripped model (edgebench.build.strip) has no tensor names: index them.
                label = tensor.Name().decode() if tensor.Name() else f"#{t}"
                layers[label] = round(sparsity(values, zero), 6)
    return WeightFacts(params, nonzero, layers)


def _buffer_data(buf: bytes, buffer: Any) -> bytes | None:
    if buffer is None:
        return None
    if buffer.Offset() > 1:  # large models keep data after the flatbuffer
        return buf[buffer.Offset() : buffer.Offset() + buffer.Size()]
    if buffer.DataLength() == 0:
        return None
    return buffer.DataAsNumpy().tobytes()


def _zero_point(tensor: Any, ndim: int) -> Any:
    """The quantised value that stands for 0.0: a scalar, or one per channel, broadcastable."""
    q = tensor.Quantization()
    if q is None or q.ZeroPointLength() == 0:
        return 0
    zps = q.ZeroPointAsNumpy()
    if zps.size == 1 or not np.any(zps):
        return int(zps[0])
    axis = q.QuantizedDimension()
    return zps.reshape([-1 if i == axis else 1 for i in range(ndim)])
