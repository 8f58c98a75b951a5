"""Importing a file, as ``casework import`` does: by one process, or by several.

One worker reads the file (or standard input) once; several each read it whole and import
the records of their partition (``casework.transfer.parallel``). Dry runs and standard input
are read by one process.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from ..application import Casework
from .formats import FORMATS
from .importing import ImportResult, Sink
from .parallel import counted, import_in_parallel, open_source

STDIN = "-"


@dataclass(frozen=True)
class FileImport:
    path: str
    """A file, or ``-`` for standard input."""
    format: str = "jsonl"
    workers: int = 1
    dry_run: bool = False

    @property
    def parallel(self) -> bool:
        return self.workers > 1 and not self.dry_run and self.path != STDIN

    def bytes_to_read(self) -> int:
        """What ``progress`` will count up to: every worker reads the whole file."""
        if self.path == STDIN:
            return 0
        return os.path.getsize(self.path) * (self.workers if self.parallel else 1)

    def run(self, app: Casework, rejects: Sink | None,
            progress: Callable[[int], None] | None = None) -> ImportResult:
        """Store what is good; every rejected record goes to ``rejects`` as it was read
        (none in a dry run)."""
        if self.parallel:
            return import_in_parallel(app, self.path, self.format, self.workers, rejects,
                                      progress)
        with self._source() as source:
            return FORMATS[self.format].importer(app, counted(source, progress),
                                                 None if self.dry_run else rejects,
                                                 dry_run=self.dry_run)

    @contextmanager
    def _source(self) -> Iterator[TextIO]:
        if self.path != STDIN:
            with open_source(self.path) as source:
                yield source
            return
        # Each byte that is not UTF-8 arrives as a lone surrogate, as from a file; standard
        # input itself stays open, for the process that owns it.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
        try:
            yield stdin
        finally:
            stdin.detach()
