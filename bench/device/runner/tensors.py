"""A model's inputs and outputs: their names, batch size, and values in and out (quantised
where the model is integer)."""

from .errors import ModelError


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
        dtype = np.dtype(d["dtype"])
        arr = quantize(arr.reshape([n] + shape), dtype, *d["quantization"])
        if n < batch:
            arr = np.concatenate([arr, np.zeros([batch - n] + shape, dtype)])
        interp.set_tensor(d["index"], arr)


def get_outputs(interp, outs, n):
    """Every output's first ``n`` rows as float32, int8/uint8 outputs dequantised."""
    return dict((d["key"], dequantize(interp.get_tensor(d["index"])[:n], *d["quantization"]))
                for d in outs)


def quantize(x, dtype, scale, zero_point):
    """Values -> the input tensor's ``dtype``: for an integer input with a scale,
    round(x / scale + zero_point) clipped to the dtype's range; else a plain cast.

    The division is by float32(scale) in ``x``'s own precision, so float32 samples stay
    float32 and the host and every device get the same integers. The one copy of this rule:
    the runner's inputs, and the build's checks of stripped files, call it.
    """
    import numpy as np

    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and scale:
        info = np.iinfo(dtype)
        x = np.clip(np.round(x / np.float32(scale) + zero_point), info.min, info.max)
    return x.astype(dtype, copy=False)


def dequantize(q, scale, zero_point):
    """Quantised values -> float32 ((q - zero_point) * scale); float passes through."""
    import numpy as np

    q = np.asarray(q)
    if not scale or q.dtype.kind == "f":
        return q.astype(np.float32)
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
