"""Importing a file, as ``casework import`` does: checked whole first where the format can
be, then by one process, or by several.

An export (JSON Lines) is first read once to check it against its closing line, or against a
digest the user gives (``casework.transfer.checking``): nothing is stored unless it passes.
Standard input is then kept in a temporary file, to be read twice. One worker reads the file
once more; several each read it whole and import the records of their partition
(``casework.transfer.parallel``). Dry runs and standard input are imported by one process.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
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
    expect_digest: str | None = None
    """The digest the file's cases must give (``casework audit --digest`` of the store the
    file was exported from), for a format that can be checked."""

    @property
    def parallel(self) -> bool:
        return self.workers > 1 and not self.dry_run and self.path != STDIN

    @property
    def checked(self) -> bool:
        return FORMATS[self.format].check is not None

    def bytes_to_read(self) -> int:
        """What ``progress`` will count up to: the check reads the file once, and every
        worker reads it whole."""
        if self.path == STDIN:
            return 0
        reads = (self.workers if self.parallel else 1) + (1 if self.checked else 0)
        return os.path.getsize(self.path) * reads

    def run(self, app: Casework, rejects: Sink | None,
            progress: Callable[[int], None] | None = None) -> ImportResult:
        """Check the file where its format can be (``ExportMismatch`` stores nothing); then
        store what is good, every rejected record going to ``rejects`` as it was read (none
        in a dry run)."""
        check = FORMATS[self.format].check
        with self._readable() as path:
            verdict = None
            if check is not None:
                with open_source(path) as source:
                    verdict = check(counted(source, progress), self.expect_digest)
            result = self._import(app, path, None if self.dry_run else rejects, progress)
        if verdict is not None:
            result.checked, result.digest = verdict.checked, verdict.digest
        return result

    def _import(self, app: Casework, path: str, rejects: Sink | None,
                progress: Callable[[int], None] | None) -> ImportResult:
        if self.parallel:
            return import_in_parallel(app, path, self.format, self.workers, rejects,
                                      progress)
        with self._source(path) as source:
            return FORMATS[self.format].importer(app, counted(source, progress), rejects,
                                                 dry_run=self.dry_run)

    @contextmanager
    def _readable(self) -> Iterator[str]:
        """The file to read: standard input in a temporary file when it is to be read twice
        (to check it, then to import it)."""
        if self.path != STDIN or not self.checked:
            yield self.path
            return
        with tempfile.NamedTemporaryFile(prefix="casework-import-") as copy:
            shutil.copyfileobj(sys.stdin.buffer, copy)
            copy.flush()
            yield copy.name

    @contextmanager
    def _source(self, path: str) -> Iterator[TextIO]:
        if path != STDIN:
            with open_source(path) as source:
                yield source
            return
        # Each byte that is not UTF-8 arrives as a lone surrogate, as from a file, and lines
        # end at line feeds only; standard input itself stays open, for the process that
        # owns it.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape",
                                 newline="\n")
        try:
            yield stdin
        finally:
            stdin.detach()
