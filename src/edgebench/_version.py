"""The one place edgebench's version is written (hatchling reads it for the wheel)."""

__version__ = "0.2.0"
