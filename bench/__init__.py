"""edgebench's bench side, grouped by job into sub-rooms (it never imports TensorFlow):

- ``device``: what runs on a device (the runner), and the host's half of its file formats;
- ``judgement``: history, evidence, repeats, compare and gate: what the numbers mean;
- ``orchestration``: plans, flows and the scheduler that measure models on targets;
- ``outputs``: tables, machine-readable formats and the HTML report.

Each sub-room imports only those listed before it (tests/test_package.py holds them to it):
orchestration judges repeats and names devices with judgement's help, and outputs show what
the others produced.
"""
