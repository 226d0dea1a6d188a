"""Judgement: what the numbers mean, once results exist.

- ``history`` (with ``history_schema``): every run kept in one SQLite file;
- ``evidence``: the device's own noise, its process-to-process spread and bench-to-bench drift;
- ``repeats``: several processes of one model merged into one record;
- ``compare``: two runs compared variant by variant, with ``compare_settings`` (how sure and
  how big a change must be), ``latency`` (is a latency change real) and ``run_refs`` (which
  runs a reference names);
- ``gate``: results held against a budgets file (``budgets``), rule by rule (``gate_rules``).

Everything here reads records and returns records and verdicts: nothing measures (that is
``edgebench.bench.orchestration``) and nothing formats a table for a person (that is
``edgebench.bench.outputs``), so one verdict serves the terminal, JSON, JUnit and the HTML
report alike. It imports nothing of the other sub-rooms.
"""
