"""The file formats of ``casework import`` and ``casework export``: one registry.

Each format has an importer (lines in, an ``ImportResult`` out), the way worker processes
tell which records are theirs (``casework.transfer.parallel``), the way a reject file is
written afterwards from the lines the workers rejected, and, where there are, an exporter and
a check of a file whole before it is imported (``casework.transfer.checking``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..application import Casework
from .checking import ExportCheck, check_export
from .importing import Importer, Owner, Sink
from .jsonl import export_jsonl, import_jsonl, owned_jsonl, write_rejected_lines
from .nyc311 import REQUIRED_COLUMNS, import_nyc311, owned_nyc311, write_rejected_rows

Exporter = Callable[..., int]
"""``(app, out, progress=None, *, with_keys=True) -> cases written``."""


@dataclass(frozen=True)
class FileFormat:
    name: str
    description: str
    importer: Importer
    owned: Callable[[Iterable[str], Owner], Iterator[str]]
    write_rejects: Callable[[Iterable[str], dict[int, str], Sink], None]
    exporter: Exporter | None = None
    check: Callable[[Iterable[str], str | None], ExportCheck] | None = None
    """``(lines, expected digest or None)``: raises when the file is not whole."""


FORMATS: dict[str, FileFormat] = {
    fmt.name: fmt for fmt in (
        FileFormat("jsonl", "as written by casework export: one case per line, with its full "
                            "history", import_jsonl, owned_jsonl, write_rejected_lines,
                   export_jsonl, check_export),
        FileFormat("nyc311", "NYC 311 service requests (CSV), each one a petition",
                   import_nyc311, owned_nyc311, write_rejected_rows),
    )
}


def recognised(first_line: str) -> str | None:
    """The format a file's first line says it is in, when it says so clearly: an NYC 311
    CSV header names its required columns; a casework export starts with a JSON object."""
    if first_line.lstrip().startswith("{"):
        return "jsonl"
    header = next(csv.reader([first_line.lstrip("\ufeff")]), [])
    if all(column in header for column in REQUIRED_COLUMNS):
        return "nyc311"
    return None


def importable() -> list[str]:
    return sorted(FORMATS)


def exportable() -> list[str]:
    return sorted(name for name, fmt in FORMATS.items() if fmt.exporter is not None)


def export(app: Casework, fmt: str, out: Sink, progress: Callable[[int], None] | None = None,
           *, with_keys: bool = True) -> int:
    exporter = FORMATS[fmt].exporter
    assert exporter is not None, f"{fmt} has no exporter"
    return exporter(app, out, progress, with_keys=with_keys)


def importer(fmt: str) -> Any:
    return FORMATS[fmt].importer
