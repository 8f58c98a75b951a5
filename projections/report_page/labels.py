"""The report page's words, in one table per language (``labels/<lang>.toml``).

Texts of the page are looked up by key (``text``); values stored in cases (stages, states,
channels, categories, levels, ...) by their kind and value, falling back to the value
itself, so a value no table names still shows. Units are shown by their names in the
organisation file in Chinese, by the last part of their path otherwise (the names of the
sample subdistrict are Chinese). The text report and the command line name stored values
through these tables too (``projections.i18n.Names``); their own words are gettext
messages. The page's texts stay here, by key, in both languages side by side (a test
keeps their keys the same): the service renders the page in whichever language a request
asks for, while the command line's catalogue follows the command's one language.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from casework.organisation import Organisation
from casework.settings import LANGUAGES

HERE = Path(__file__).resolve().parent / "labels"
VALUE_TABLES = ("category", "channel", "state", "stage", "kind", "level", "figure")
NONE = "(none)"
"""How the report names a missing value (a group without a unit, a case without a channel)."""


@cache
def table(lang: str) -> dict[str, Any]:
    if lang not in LANGUAGES:
        raise ValueError(f"no labels in {lang!r} (choose from {', '.join(LANGUAGES)})")
    with (HERE / f"{lang}.toml").open("rb") as file:
        return tomllib.load(file)


class Labels:
    """The words of one language, and the names of the organisation's units."""

    def __init__(self, lang: str = "en", organisation: Organisation | None = None) -> None:
        self.lang = lang
        self.table = table(lang)
        self.organisation = organisation

    def text(self, key: str, **values: object) -> str:
        """A text of the page, by its dotted key (``section.sla``), with ``values`` filled in."""
        entry: Any = self.table["text"]
        for part in key.split("."):
            entry = entry[part]
        return str(entry).format(**values) if values else str(entry)

    def value(self, kind: str, value: object) -> str:
        """A stored value (a stage, state, channel, ...) as this language says it."""
        if value is None or value == NONE:
            return self.text("none")
        if kind in ("unit", "community"):
            return self.unit(None if value is None else str(value))
        named = self.table.get(kind, {}).get(str(value))
        if named is not None:
            return str(named)
        return str(value).replace("_", " ")

    def any(self, value: object) -> str:
        """A value whose kind the page does not know (what a workflow's report section counts
        by): the first table that names it."""
        for kind in VALUE_TABLES:
            named = self.table.get(kind, {}).get(str(value))
            if named is not None:
                return str(named)
        return str(value).replace("_", " ")

    def unit(self, path: str | None) -> str:
        if path is None or path == NONE:
            return self.text("none")
        organisation = self.organisation
        unit = organisation[path] if organisation is not None and path in organisation else None
        if unit is not None and (self.lang == "zh" or unit.name.isascii()):
            return unit.name
        return path.rsplit("/", 1)[-1]
