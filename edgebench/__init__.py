"""edgebench: prune and quantise Keras models into TFLite variants, measure them where they
ship, and gate them against budgets.

Installed, the package holds the stages as subpackages: ``edgebench.build`` (the only one that
imports TensorFlow), ``edgebench.bench``, ``edgebench.deploy`` and ``edgebench.models``. In a
source checkout those rooms sit beside this folder rather than inside it (the wheel moves them
in), so the package's search path is extended to the checkout root: the same imports work in
both places.
"""

from __future__ import annotations

from pathlib import Path

from edgebench._version import __version__


def _rooms_in_checkout() -> Path | None:
    """The checkout root when this package runs from a source checkout, else None."""
    here = Path(__file__).resolve().parent
    root = here.parent
    if (here / "bench").is_dir():
        return None  # installed: the rooms are inside
    if (root / "bench" / "runner.py").is_file() and (root / "pyproject.toml").is_file():
        return root
    return None


_checkout = _rooms_in_checkout()
if _checkout is not None:
    __path__.append(str(_checkout))  # noqa: F821 - every package has __path__

__all__ = ["__version__"]
