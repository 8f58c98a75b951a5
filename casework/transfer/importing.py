"""What every importer shares: the summary it gives, the reject file it writes, and how it
tells a line that was not UTF-8.

``casework import --format F`` calls one importer of ``casework.transfer.formats``; each reads
lines, stores what is good, writes each rejected line to the reject file as it was read, and
returns an ``ImportResult``, which the command line reports the same way for every format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO
from uuid import UUID

from ..application import Casework

Owner = Callable[[UUID | None], bool]
"""Whether a record with this case id (None: it has none) is this worker's to import (see
``casework.transfer.parallel``)."""


class Sink(Protocol):
    def write(self, text: str, /) -> Any: ...


@dataclass
class ImportResult:
    """What an import did, whatever the format: the CLI reports every importer the same way.

    Every line of the file is counted once: ``lines`` = ``imported`` + ``skipped`` + ``keys``
    + ``keys_skipped`` + the number ``rejected`` + ``blank`` + ``header`` + ``continued`` +
    ``closing``."""

    imported: int = 0
    """Records stored (cases, for JSON Lines)."""
    skipped: int = 0
    """Records already in the store exactly as given, or earlier in the file: importing
    twice adds nothing."""
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(line number, reason) of every record left out, in line order."""
    keys: int = 0
    """Persons' lines that changed something: a key stored, or a person forgotten (JSON
    Lines)."""
    keys_skipped: int = 0
    """Persons' lines that changed nothing: the same key, a key for a person forgotten here,
    a forgetting recorded already."""
    blank: int = 0
    """Lines with nothing on them (spaces at most)."""
    header: int = 0
    """The lines of a CSV file's header (its column names), or an export's opening line."""
    continued: int = 0
    """Lines that continue a record begun on a line before (a CSV field with line breaks);
    the record itself is counted where it begins."""
    closing: int = 0
    """The export's closing line (casework.transfer.envelope)."""
    lines: int = 0
    """The lines of the file, as an editor numbers them (a line ends at a line feed)."""
    checked: bool = False
    """Whether the file was checked whole before anything was stored: against its closing
    line, or a digest the user gave."""
    digest: str | None = None
    """The digest of the file's cases, when it was checked."""

    COUNTS = ("imported", "skipped", "keys", "keys_skipped", "blank", "header", "continued",
              "closing")

    def accounted(self) -> int:
        """The lines the counts account for: ``lines``, when the import read the file whole."""
        return sum(getattr(self, name) for name in self.COUNTS) + len(self.rejected)

    def merge(self, other: ImportResult) -> None:
        """Add what another worker did with its records of the same file (it read the file
        whole too: its lines and header are the same)."""
        for name in self.COUNTS:
            if name != "header":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.header = max(self.header, other.header)
        self.lines = max(self.lines, other.lines)
        self.rejected = sorted(self.rejected + other.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "imported": self.imported, "skipped": self.skipped,
                "keys": self.keys, "keys_skipped": self.keys_skipped,
                "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
                "blank": self.blank, "header": self.header, "continued": self.continued,
                "closing": self.closing, "checked": self.checked, "digest": self.digest}


class Importer(Protocol):
    """``casework import --format F`` calls one of these: store what is good, write each
    rejected line to ``rejects`` as it was read, and say what happened."""

    def __call__(self, app: Casework, lines: Iterable[str], rejects: Sink | None = None, *,
                 dry_run: bool = False) -> ImportResult: ...


class RejectFile:
    """Where rejected lines go, created at the first one: an import without any leaves none."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None

    @property
    def written(self) -> bool:
        return self._file is not None

    def write(self, text: str, /) -> int:
        if self._file is None:
            # surrogateescape: a line that was not UTF-8 is written back byte for byte.
            self._file = open(self.path, "w", encoding="utf-8", errors="surrogateescape",  # noqa: SIM115
                              newline="")
        return self._file.write(text)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def rejects_path_for(source: str | Path) -> Path:
    """The default reject file of an import, in the working directory (the input's folder may
    be shared or read-only): data/cases.jsonl → ./cases.rejects.jsonl."""
    if str(source) == "-":
        return Path("stdin.rejects")
    path = Path(source)
    return Path(f"{path.stem}.rejects{path.suffix}")


OTHERS = ""
"""What an importer is given in place of a line another worker imports (see
``casework.transfer.parallel``): the line numbers stay those of the file, and each line is
counted by one worker. A file read line by line never yields an empty line."""


def is_blank(text: str) -> bool:
    """A line with nothing on it but spaces, tabs and its line break."""
    return text != OTHERS and not text.strip(" \t\r\n")


class BadLine(ValueError):
    """The reason a line is rejected."""


def invalid_utf8(text: str) -> str | None:
    """Why ``text`` was not valid UTF-8, or None when it was.

    Files are read with ``errors="surrogateescape"`` (as the CLI does), so that each byte that
    is not UTF-8 arrives as a lone surrogate: the line is rejected rather than imported with
    replacement characters, and its bytes go to the reject file unchanged."""
    found = _ESCAPED_BYTE.search(text)
    if found is None:
        return None
    return (f"not valid UTF-8 (byte 0x{ord(found.group()) - 0xDC00:02x} at character "
            f"{found.start() + 1})")


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
"""A byte that was not UTF-8, as ``surrogateescape`` reads it: one search in C per line
rather than a Python loop over its characters (a tenth of a JSONL import's time)."""
