"""Every case in the event store, one at a time, in flat memory.

The notification log is read a page at a time. A case is yielded while the page holding its
earliest stored event goes by, so that each case comes exactly once, in the order cases were
first recorded, without a set of every id seen so far, and even when a case's first events
were deleted or renumbered behind the engine's back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from .application import Casework

PAGE_SIZE = 1000


def case_ids(app: Casework, page_size: int = PAGE_SIZE) -> Iterator[UUID]:
    """The id of every case that has at least one stored event."""
    position = 0
    while True:
        notifications = app.recorder.select_notifications(
            start=position, limit=page_size, inclusive_of_start=False
        )
        if not notifications:
            return
        earliest_in_page: dict[UUID, int] = {}
        for notification in notifications:
            known = earliest_in_page.get(notification.originator_id)
            if known is None or notification.originator_version < known:
                earliest_in_page[notification.originator_id] = notification.originator_version
        for case_id, version in earliest_in_page.items():
            first = app.recorder.select_events(case_id, limit=1)
            if first and first[0].originator_version == version:
                yield case_id
        position = notifications[-1].id
