"""The records of a CSV file, each with the lines it was read from.

A record may take several lines (a quoted field with line breaks). One the CSV reader cannot
read (a field over its size limit, a line break in a field without quotes) is a record all
the same, made of the lines the reader took before it gave up: a reject file keeps those
lines as they were read, so that nothing of the file is lost.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .importing import OTHERS


@dataclass(frozen=True)
class Record:
    line: int
    """The line it starts on, as an editor numbers it."""
    lines: tuple[str, ...]
    """The lines it was read from, as read (each with its line break)."""
    cells: list[str] | None
    """None when the CSV reader could not read it."""
    unreadable: str = ""
    """Why the reader could not read it."""

    @property
    def text(self) -> str:
        return "".join(self.lines)

    @property
    def blank(self) -> bool:
        return self.cells == [] and self.text != OTHERS

    @property
    def others(self) -> bool:
        """Lines another worker imports (casework.transfer.parallel): not this one's to count."""
        return all(line == OTHERS for line in self.lines)


class Records:
    """The records of CSV lines, one by one."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._taken: list[str] = []
        self.reader = csv.reader(self._feed())

    def _feed(self) -> Iterator[str]:
        for line in self._lines:
            self._taken.append(line)
            yield line

    @property
    def lines_read(self) -> int:
        return self.reader.line_num

    def read(self) -> Record | None:
        """The next record; None at the end of the lines."""
        start = self.reader.line_num + 1
        self._taken.clear()
        try:
            cells: list[str] | None = next(self.reader)
            unreadable = ""
        except StopIteration:
            return None
        except csv.Error as error:
            cells, unreadable = None, f"unreadable CSV: {error}"
        return Record(start, tuple(self._taken), cells, unreadable)

    def __iter__(self) -> Iterator[Record]:
        while (record := self.read()) is not None:
            yield record

    def rest(self) -> Iterator[str]:
        """The lines not read yet, as they are."""
        return self._lines
