"""Orchestration: getting models measured on targets, from the host.

What to measure (``plan``; ``reference`` adds the float reference's outputs for models edgebench
did not build), how a target measures it (``flows``, one per way of measuring, with their output
parsers, ``flows.compat`` for a runtime that refuses a model, ``flows.continuous`` for the
sustained run's and the energy's record fields, and ``flows.benchmark_sustained`` for a phone's
windows, state and battery read over adb), running the plan on every
target with one process and one time limit per model (``scheduler``, stamping the results with
``hostfacts``: the machine edgebench runs on and the user's commit), the live terminal line
(``progress``), and ``doctor``, which runs the same runner on a device to say whether it can
bench at all. These modules talk to devices through ``edgebench.deploy`` and ship the device
side (``edgebench.bench.device``); they judge nothing and print no tables.
"""
