"""The build stage: datasets, training, pruning recipes, TFLite conversion and artifact facts.

Importing this package (and ``build.config``, ``build.datasets``) never imports TensorFlow;
modules that need it call :func:`build._tf.import_tf` inside their functions.
"""
