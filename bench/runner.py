"""The names build/pipeline.py still reads from the runner's old single file.

Only for build/pipeline.py, whose owner is changing it elsewhere: it imports
``edgebench.bench.runner`` and this module keeps that import working. Everything else imports
the device side (``edgebench.bench.device``) directly; delete this module once pipeline.py does.
"""

from edgebench.bench.device.runner.errors import ModelError
from edgebench.bench.device.runner.evaldata import EvalData
from edgebench.bench.device.runner.evaluate import evaluate
from edgebench.bench.device.runner.ops import model_ops
from edgebench.bench.device.runner.preprocess import PREPROCESS_MODES, preprocess
from edgebench.bench.device.runner.tensors import match_names
from edgebench.bench.device.shards import model_outputs, write_eval_data

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
