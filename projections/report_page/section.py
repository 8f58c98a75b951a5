"""What a section of the page is, and what a section's function is given to make one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from ..report import Report
from .cases import CaseLinks, CaseQuery
from .labels import Labels


@dataclass(frozen=True)
class Section:
    """One card of the page: a chart (a Vega-Lite spec) or a table, and its definition."""

    key: str
    """Its element id, and the key in the report's JSON of the figure it shows."""
    title: str
    note: str
    """What the figure counts, printed under it."""
    chart: dict[str, Any] | None = None
    html: str = ""
    """A table or tiles, as escaped HTML (``Page.link`` makes the numbers links)."""
    subtitle: str = ""
    wide: bool = False
    """Spans the whole width of the page (tables with many columns)."""


@dataclass
class Page:
    """What a section function is given: the report, the words, and where numbers link to."""

    report: Report
    labels: Labels
    links: CaseLinks | None = None

    def text(self, key: str, **values: object) -> str:
        return self.labels.text(key, **values)

    def value(self, kind: str, value: object) -> str:
        return self.labels.value(kind, value)

    def link(self, count: int, query: CaseQuery, caption: str, section: str) -> str:
        """``count`` as HTML, a link to the cases it counts when the page has links."""
        if self.links is None or not count:
            return str(count)
        href = self.links.href(query, caption, section)
        return f"<a href=\"{escape(href)}\">{count}</a>"


def card(page: Page, key: str, **parts: Any) -> Section:
    """A section titled and explained by the labels of ``key``."""
    return Section(key, page.text(f"section.{key}"), page.text(f"note.{key}"), **parts)


SectionFunction = Callable[[Page], Iterable[Section]]
"""Makes the cards of one section from the report: none when the report has nothing for it."""


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
