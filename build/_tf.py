"""The one door to TensorFlow, tf-keras and tfmot for the build stage.

tfmot works only with tf-keras (Keras 2), so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported. Every TensorFlow import in ``build/`` goes through here, lazily:
importing any module of the build stage (``edgebench.build.config``, ``.datasets``, …) never
imports TensorFlow; the functions that need it call :func:`import_tf`.

``build/`` has no ``__init__.py`` on purpose: in a checkout's root, ``python -m build`` (PyPA's
build, what builds the wheel) must find PyPA's package, not this folder. A folder without one
is a namespace portion, and Python prefers a regular package found later on ``sys.path``.
"""

from __future__ import annotations

import os
from typing import Any

from edgebench.errors import EdgebenchError

INSTALL_HINT = "the build stage needs TensorFlow: pip install 'edgebench[build]'"


def import_tf() -> tuple[Any, Any, Any]:
    """Return the modules ``(tensorflow, tf_keras, tensorflow_model_optimization)``."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ info lines out of CI logs
    try:
        import tensorflow as tf
        import tensorflow_model_optimization as tfmot
        import tf_keras
    except ImportError as exc:
        raise EdgebenchError(f"{INSTALL_HINT} ({exc})") from None
    return tf, tf_keras, tfmot


def tfmot_registries() -> tuple[Any, Any]:
    """tfmot's ``PruneRegistry`` and ``ClusteringRegistry``: which built-in layer types it can
    prune and cluster, and which of their weights. Not in tfmot's public API (the modules are
    private in 0.8.1, the version constraints.txt pins), so reached only here."""
    import_tf()
    from tensorflow_model_optimization.python.core.clustering.keras import clustering_registry
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    return prune_registry.PruneRegistry, clustering_registry.ClusteringRegistry


def import_flatbuffer_utils() -> Any:
    """TensorFlow's ``tensorflow.lite.tools.flatbuffer_utils`` (read, strip and write models)."""
    import_tf()  # the same environment and the same install hint
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils
