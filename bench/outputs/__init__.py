"""Outputs: the results and verdicts as people and tools read them.

The run summary table (``summary``), ``--format json|csv|markdown`` of every command
(``export``), pytest-benchmark's JSON (``pytest_benchmark_json``) and the one-file HTML report
(``report``). These modules only read what orchestration and judgement produced: a new output
format never touches how anything is measured or judged.
"""
