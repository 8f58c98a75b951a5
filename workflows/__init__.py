"""The workflow definitions shipped with casework, and where to find them.

Each ``*.toml`` file here is one version of one workflow (see casework.compiler for the
format); ``organisation/`` holds the organisation cases are dispatched to: every ``*.csv``
there is one tree (a root and its units), the sample Guanlan subdistrict and New York City's
311 agencies, and ``office.toml``, which names the office's calendar (in ``calendars/``) and
time zone.
"""

from __future__ import annotations

from pathlib import Path

DEFINITIONS = Path(__file__).resolve().parent
ORGANISATION = DEFINITIONS / "organisation"
"""The default organisation: all its files together (see ``Organisation.load``)."""
SAMPLE_ORGANISATION = ORGANISATION / "guanlan.csv"
CALENDARS = DEFINITIONS / "calendars"
"""Office calendars: working hours, holidays and make-up working days (see
``casework.calendar_files``)."""


def definition_files(directory: str | Path = DEFINITIONS) -> list[Path]:
    """The workflow definition files in ``directory``, in a stable order."""
    return sorted(Path(directory).glob("*.toml"))
