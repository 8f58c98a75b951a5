"""The digest of a set of cases: one definition for ``casework audit --digest``, for the
closing line of an export, and for the import that checks a file against either.

It is one sha256 over the lines ``"<case id> <head hash>\\n"``, one per case, in the order of
the case ids (the head is the hash of the case's latest event, which chains every event
before it). Whoever keeps a digest somewhere else can tell later whether any of those cases
gained, lost or changed an event, even where every chain was recomputed to hide it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from uuid import UUID


class OutOfOrder(ValueError):
    """A case given to ``Digest.add`` does not come after the one before it."""

    def __init__(self, case_id: UUID, after: UUID) -> None:
        super().__init__(f"case {case_id} comes after case {after}")
        self.case_id = case_id
        self.after = after


class Digest:
    """The digest of cases given one by one, in the order of their ids: memory stays flat
    whatever their number."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.last: UUID | None = None
        self.cases = 0

    def add(self, case_id: UUID, head: str) -> None:
        """Take the next case; ``OutOfOrder`` when its id is not above the one before."""
        if self.last is not None and case_id <= self.last:
            raise OutOfOrder(case_id, self.last)
        self._sha.update(f"{case_id} {head}\n".encode())
        self.last = case_id
        self.cases += 1

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def digest_of(heads: Iterable[tuple[UUID, str]]) -> str:
    """The digest of cases given in any order, as (case id, head hash): holds one short entry
    per case while it sorts them."""
    digest = Digest()
    for case_id, head in sorted(heads):
        digest.add(case_id, head)
    return digest.hexdigest()


def same_digest(given: str, digest: str) -> bool:
    """Whether a digest a user typed or pasted is this one (spaces and case aside)."""
    return given.strip().lower() == digest
