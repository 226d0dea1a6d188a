"""The XNNPACK weight cache table (``--xnnpack-weight-cache``): for each record that measured
it, the model's memory without and with a built cache and what the cache saves, for the
summary, the Markdown and the report."""

from __future__ import annotations

from collections.abc import Sequence

from edgebench.records import Results

WEIGHT_CACHE_COLUMNS = ("target", "variant", "without MiB", "with cache MiB", "saved MiB",
                        "cache file MiB", "init ms", "init ms cached")
WEIGHT_CACHE_TITLE = ("what XNNPACK's weight cache saves of the model's memory (through "
                      "ai-edge-litert's CompiledModel, 20 invokes; 'with cache' maps a cache "
                      "built before)")


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def weight_cache_rows(results: Sequence[Results]) -> list[tuple[str, ...]]:
    """A row per record whose weight cache was measured (a record that says why it was not
    has a warning instead)."""
    rows: list[tuple[str, ...]] = []
    for res in results:
        for r in res.records:
            w = r.weight_cache
            if w is None or w.error:
                continue
            rows.append((res.target, r.key, _num(w.without_mb, ".1f"), _num(w.with_mb, ".1f"),
                         _num(w.saved_mb, ".1f"), _num(w.cache_mb, ".1f"),
                         _num(w.init_ms_without, ".1f"), _num(w.init_ms_with, ".1f")))
    return rows
