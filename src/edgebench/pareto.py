"""The Pareto front of size against quality: one definition for the sweep and the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def pareto_front(
    items: Sequence[T], size: Callable[[T], float], quality: Callable[[T], float]
) -> list[T]:
    """The items no other item beats, smallest first.

    An item is beaten when another is no larger and no worse, and strictly better in one of
    the two. Items that tie on both stay on the front together (neither beats the other), in
    their input order.
    """
    ranked = sorted(range(len(items)), key=lambda i: (size(items[i]), -quality(items[i]), i))
    front: list[T] = []
    best: float | None = None  # the highest quality of every item ranked before this one
    for i in ranked:
        s, q = size(items[i]), quality(items[i])
        if best is not None and q <= best and not _ties_front(front, s, q, size, quality):
            continue
        front.append(items[i])
        best = q if best is None else max(best, q)
    return front


def _ties_front(front: list, s: float, q: float, size: Callable, quality: Callable) -> bool:
    """Whether (s, q) equals a point already on the front: a tie, not a loss."""
    return any(size(f) == s and quality(f) == q for f in front)
