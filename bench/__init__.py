"""edgebench's bench side, grouped by job into sub-rooms (it never imports TensorFlow):

- ``device``: what runs on a device (the runner), and the host's half of its file formats;
- ``orchestration``: plans, flows and the scheduler that measure models on targets;
- ``judgement``: history, evidence, repeats, compare and gate: what the numbers mean;
- ``outputs``: tables, machine-readable formats and the HTML report.

Imports run one way: outputs -> orchestration -> judgement, and orchestration -> device.
"""
