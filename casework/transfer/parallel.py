"""An import shared by worker processes, each importing the cases of its partition.

The partitions are those of batch jobs (casework.jobs, claimed with leases): by case id.
Every worker reads the whole file and hands the importer only the records of the partition
it claimed; the lines of other partitions reach the importer empty (``OTHERS``), so that line
numbers stay those of the file, each line is counted by one worker, and the importers
themselves are unchanged. A record's case id is what the importer would give it (the line's
``id``; ``uuid5`` of the Unique Key); a record without one (not JSON, no Unique Key, a CSV row
that cannot be read; a blank line, a person's line, an export's opening or closing line)
belongs to partition 0.
So every record, good or bad, is imported, skipped or rejected by exactly one worker, and the
same case twice in the file goes to the same worker, which sees the repetition as one process
would. The reject file is written at the end, from the file, in line order.

Reading the file costs little beside checking and storing the cases, so each worker reads it
once, and there are as many partitions as workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from uuid import UUID, uuid4

from ..application import Casework
from ..jobs.runner import run_in_partitions
from .formats import FORMATS
from .importing import ImportResult, Sink

# The work of one partition -------------------------------------------------------------

@dataclass
class _ImportSummary:
    result: ImportResult = field(default_factory=ImportResult)
    interrupted: bool = False

    def merge(self, other: _ImportSummary) -> None:
        if other.interrupted:
            # Given up half-way (its lease was lost): the worker that took the partition over
            # read it from the start and counted all of its lines (the cases stored before
            # the lease was lost as already present).
            return
        self.result.merge(other.result)


@dataclass(frozen=True)
class _ImportWork:
    path: str
    format: str
    name: str = "import"

    def summary(self) -> _ImportSummary:
        return _ImportSummary()

    def prepare(self, app: Casework) -> None:
        """Nothing to prepare: each partition reads what it needs."""

    def __call__(self, app: Casework, partition: tuple[int, int],
                 progress: Callable[[int], None] | None,
                 heartbeat: Callable[[], bool]) -> _ImportSummary:
        part, parts = partition

        def owns(case_id: UUID | None) -> bool:
            return part == 0 if case_id is None else case_id.int % parts == part

        lease = _Lease(heartbeat)
        chosen = FORMATS[self.format]
        with open_source(self.path) as source:
            lines = lease.kept(chosen.owned(counted(source, progress), owns))
            result = chosen.importer(app, lines, None)
        return _ImportSummary(result, interrupted=lease.lost)


class _Lease:
    """Keeps the worker's lease while it reads; stops the reading when the lease is lost."""

    def __init__(self, heartbeat: Callable[[], bool]) -> None:
        self.heartbeat = heartbeat
        self.lost = False

    def kept(self, lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            if not self.heartbeat():
                self.lost = True
                return
            yield line


def open_source(path: str | Path) -> TextIO:
    """The file as ``casework import`` reads it: UTF-8, with each byte that is not UTF-8 as a
    lone surrogate (the importers reject its line and write it back byte for byte), and lines
    that end at line feeds only, kept as they are (a carriage return stays in its line)."""
    return open(path, encoding="utf-8", errors="surrogateescape", newline="\n")


def counted(lines: Iterable[str], progress: Callable[[int], None] | None) -> Iterator[str]:
    """The lines, moving ``progress`` by the bytes each took in the file."""
    for line in lines:
        if progress is not None:
            progress(len(line.encode(errors="surrogateescape")))
        yield line


# The import ----------------------------------------------------------------------------

def import_in_parallel(app: Casework, path: str | Path, file_format: str, workers: int,
                       rejects: Sink | None = None,
                       progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import the file with ``workers`` processes; the same result as one.

    ``progress`` is called with bytes read: each worker reads the whole file, so the total
    is ``workers`` times its size. ``rejects`` gets the rejected records as the one-process
    import writes them, in line order."""
    work = _ImportWork(str(path), file_format)
    summary = run_in_partitions(app, work, job=f"import-{uuid4().hex[:12]}", parts=workers,
                                workers=workers, progress=progress)
    result = summary.result
    if rejects is not None and result.rejected:
        with open_source(path) as source:
            FORMATS[file_format].write_rejects(source, dict(result.rejected), rejects)
    return result
