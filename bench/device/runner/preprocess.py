"""How raw samples become a model's float input, the same function on the host and here."""

from .errors import ModelError

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
