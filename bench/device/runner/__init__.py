"""edgebench's on-device runner: every module of this package ships to devices in
``runner.pyz`` (:mod:`edgebench.bench.device.pack`), and ``cli.main`` is its command line.

Rules that keep it runnable on a Raspberry Pi's own Python: the standard library, numpy and a
TFLite interpreter only (``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``),
never TensorFlow otherwise and nothing of edgebench; modules import each other relatively
(``from .errors import ModelError``); Python 3.9 syntax; numpy is imported inside functions, so
``info`` and ``doctor`` still answer where numpy is missing or broken.
"""
