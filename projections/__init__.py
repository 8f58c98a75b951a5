"""Read models built from the events, and the reports that query them."""

from .read_model import ReadModel

__all__ = ["ReadModel"]
