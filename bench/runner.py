"""The names build/pipeline.py still reads from the runner's old single file.

Only for build/pipeline.py, whose owner is changing it elsewhere: it imports
``edgebench.bench.runner`` and this module keeps that import working. Everything else imports
the device side (``edgebench.bench.device``) directly; delete this module once pipeline.py does.
"""

from edgebench.bench.device.runner.cli import (
    PREPROCESS_MODES,
    EvalData,
    ModelError,
    evaluate,
    match_names,
    model_ops,
    model_outputs,
    preprocess,
    write_eval_data,
)

__all__ = [
    "PREPROCESS_MODES",
    "EvalData",
    "ModelError",
    "evaluate",
    "match_names",
    "model_ops",
    "model_outputs",
    "preprocess",
    "write_eval_data",
]
