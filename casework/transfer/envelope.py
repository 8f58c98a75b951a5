"""The first and last lines of an export, so that an import can tell a file cut short, joined
or edited from the export as it was written.

The first line of ``casework export`` says that a closing line will come (a file that has it
and ends without one was cut short)::

    {"casework_export": 1}

and the last line says what came before it::

    {"persons": 184, "cases": 273, "events": 1840, "digest": "3f2a..."}

``persons`` counts the persons' lines, ``cases`` the case lines and ``events`` their events;
``digest`` is the digest of those cases (``casework.digest``), which is what
``casework audit --digest`` prints for the store exported, as long as nothing changed during
the export. The cases come in the order of their ids (the digest's order), so that neither
the export nor the check holds more than one case at a time.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from ..digest import Digest
from .importing import BadLine

OPENING = {"casework_export": 1}
"""The opening line; 1 is the version of the export's format (with these two lines, the
cases in the order of their ids). Exports made before have neither line."""
KEYS = ("persons", "cases", "events", "digest")
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Closing:
    persons: int
    cases: int
    events: int
    digest: str

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def opening_line() -> str:
    return json.dumps(OPENING, separators=(",", ":"))


def is_opening_line(record: dict[str, Any]) -> bool:
    """An opening line (well formed or not): it names an export's format and is neither a
    case nor a person's line."""
    return "casework_export" in record and "id" not in record and "person" not in record


def read_opening(record: dict[str, Any]) -> None:
    """``BadLine`` unless the line's object is the opening line this casework writes."""
    if record != OPENING or type(record["casework_export"]) is not int:
        raise BadLine(f"an export's opening line this casework reads is {opening_line()}")


def is_closing_line(record: dict[str, Any]) -> bool:
    """A closing line (well formed or not): it has a digest and is neither a case nor a
    person's line."""
    return "digest" in record and "id" not in record and "person" not in record


def read_closing(record: dict[str, Any]) -> Closing:
    """The closing line a line's object holds; ``BadLine`` says why not."""
    if set(record) != set(KEYS):
        raise BadLine(f"a closing line has exactly the keys {', '.join(KEYS)}")
    counts = [record[key] for key in KEYS[:3]]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        raise BadLine("a closing line counts persons, cases and events in whole numbers")
    if not isinstance(record["digest"], str) or not SHA256.fullmatch(record["digest"]):
        raise BadLine("a closing line's digest is 64 lowercase hexadecimal digits")
    return Closing(*counts, record["digest"])


class Tally:
    """What an export (or a file read back) holds so far: its closing line, in the end."""

    def __init__(self) -> None:
        self.persons = 0
        self.events = 0
        self.digest = Digest()

    def case(self, case_id: UUID, events: int, head: str) -> None:
        """Count a case; ``casework.digest.OutOfOrder`` when it does not follow the last."""
        self.digest.add(case_id, head)
        self.events += events

    def closing(self) -> Closing:
        return Closing(self.persons, self.digest.cases, self.events, self.digest.hexdigest())
