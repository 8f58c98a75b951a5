"""A batch job's partitions: equal slices of the case ids that together hold every id once."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from projections.selection import id_range


def holds(partition: tuple[int, int], case_id: UUID) -> bool:
    after, before = id_range(partition)
    return after < str(case_id) < before  # how Candidates.case_ids bounds its query


@given(st.uuids(), st.integers(min_value=1, max_value=64))
def test_every_case_id_is_in_exactly_one_partition(case_id: UUID, parts: int) -> None:
    owners = [share for share in range(parts) if holds((share, parts), case_id)]
    assert owners == [case_id.int * parts // 2**128]


def test_the_extreme_ids_belong_to_the_first_and_last_partitions() -> None:
    lowest, highest = UUID(int=0), UUID(int=2**128 - 1)
    assert holds((0, 16), lowest) and not holds((1, 16), lowest)
    assert holds((15, 16), highest) and not holds((14, 16), highest)
    assert holds((0, 1), lowest) and holds((0, 1), highest)
