"""What a model needs from a runtime: its operators and their versions, and whether this
runtime loads it at all."""

from .errors import first_line, missing_op
from .runtime import load_runtime


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
            line = missing_op(exc)
            out[path] = {
                "loaded": False if line else None,
                "missing_op": line,
                "error": first_line(exc),
            }
    return out
