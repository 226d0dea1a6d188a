"""Outputs: the results and verdicts as people and tools read them.

The fixed-width text table (``table``) and the tables built on it: the run summary
(``summary``, with the sustained speed and energy table, ``continuous_table``, and the XNNPACK
weight cache's, ``weight_cache_table``), a comparison (``compare_table``), the gate
(``gate_table``); the gate as JUnit XML (``junit``); ``--format json|csv|markdown`` of every
command (``export``); pytest-benchmark's JSON (``pytest_benchmark_json``); and the one-file
HTML report (``report``). These modules only read what orchestration and judgement produced:
a new output never touches how anything is measured or judged.
"""
