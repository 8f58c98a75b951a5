"""The workflow definitions shipped with casework, and where to find them.

Each ``*.toml`` file here is one version of one workflow (see casework.compiler for the
format); ``organisation/`` holds the sample organisation, shaped like Guanlan subdistrict.
"""

from __future__ import annotations

from pathlib import Path

DEFINITIONS = Path(__file__).resolve().parent
SAMPLE_ORGANISATION = DEFINITIONS / "organisation" / "guanlan.csv"


def definition_files(directory: str | Path = DEFINITIONS) -> list[Path]:
    """The workflow definition files in ``directory``, in a stable order."""
    return sorted(Path(directory).glob("*.toml"))
