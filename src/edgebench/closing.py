"""Objects that hold something open and are their own context manager."""

from __future__ import annotations

from typing import Self


class Closing:
    """``with obj:`` gives ``obj`` itself and calls ``obj.close()`` on the way out, error or not."""

    def close(self) -> None:
        """Release what the object holds; each subclass says what."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()
