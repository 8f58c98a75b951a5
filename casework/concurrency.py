"""Optimistic concurrency: a write that lost a race with another writer is tried again on the
fresh state, a few times, since every command is checked again on the case as it is then."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import IntegrityError

T = TypeVar("T")

MAX_ATTEMPTS = 5
"""How often a write is tried on a case (or rows) that changed under it."""


def retried(attempt: Callable[[], T], gave_up: Callable[[int], Exception],
            attempts: int = MAX_ATTEMPTS) -> T:
    """``attempt()`` again while another writer got there first (an ``IntegrityError``);
    after ``attempts`` tries, raise ``gave_up(attempts)``."""
    for _ in range(attempts):
        try:
            return attempt()
        except IntegrityError:
            continue
    raise gave_up(attempts)
