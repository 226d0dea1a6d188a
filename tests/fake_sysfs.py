"""Fake sysfs trees for the meters' and the device state's tests: files written where the
kernel would have them, under a folder that stands for ``/`` (or a phone's ``device_root``)."""

from __future__ import annotations

from pathlib import Path


def write(path: Path, text: str) -> Path:
    """``text`` into ``path``, its folders made; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
