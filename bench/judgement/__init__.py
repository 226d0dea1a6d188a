"""Judgement: what the numbers mean, once results exist.

The history of every run (``history``, SQLite), the device's own noise (``evidence``: its
process-to-process spread and bench-to-bench drift), several processes of one model merged into
one record (``repeats``), two runs compared (``compare``), and results held against budgets
(``gate``). Everything here reads and returns records and verdicts: nothing measures, and
nothing formats text for a person (that is ``edgebench.bench.outputs``), so the same verdicts
serve the terminal, JSON, JUnit and the HTML report alike.
"""
