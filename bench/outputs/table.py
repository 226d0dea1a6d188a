"""The fixed-width text table every command prints: text columns left-aligned, numbers
right-aligned, a rule under the header. Fine in a terminal and in a CI log."""

from __future__ import annotations

from collections.abc import Sequence

#: Columns whose cells are words, left-aligned; every other column holds numbers.
TEXT_COLUMNS = ("target", "variant", "status", "output", "throttling", "meter")


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Fixed-width text table: text columns left-aligned, numbers right-aligned."""
    all_rows = [tuple(header)] + [tuple(r) for r in rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header))]
    numeric = [i for i in range(len(header)) if header[i] not in TEXT_COLUMNS]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(all_rows[0]), rule] + [fmt(r) for r in all_rows[1:]])
