"""Drill-down: which cases one number of the page counts, and where its link leads.

A ``CaseQuery`` describes the cases behind a number: the report's own filters, columns equal
to values (the group's key, the heat table's category and community) and one of the report's
figures (all cases, open, resolved, open overdue, ...), each the same condition the report
counts by. A ``CaseLinks`` turns a query into a link: ``InPageCases`` into a table of those
cases at the end of the file, ``QueryLinks`` into a URL of the service's case list.

The seam for the case lists of issue 16: when projections has its typed case-list query,
``InPageCases.rows`` asks it, and ``QueryLinks`` points at its URL; the pages do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, Protocol
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, func, or_, select, true

from casework.workflow import OPEN_STAGES

from ..read_model import ReadModel
from ..report import Report
from ..tables import case_summary
from .labels import NONE, Labels

c = case_summary.c
FIGURES: dict[str, Callable[[datetime], ColumnElement[bool]]] = {
    "total": lambda now: true(),
    "open": lambda now: c.stage.in_(OPEN_STAGES),
    "resolved": lambda now: c.outcome == "resolved",
    # As the report judges a deadline: graded, not resolved, open, and past it (or once past).
    "open_overdue": lambda now: and_(
        c.deadline.is_not(None), c.grade.is_not(None), c.grade != "", c.resolved_at.is_(None),
        c.stage.in_(OPEN_STAGES), or_(c.missed_deadline, c.deadline < now)),
}
"""The report's counts a page links to, as conditions on the read model (at moment ``now``)."""
SHOWN = 10
"""How many cases an in-page list shows; the rest are counted ("and 12 more")."""


@dataclass(frozen=True)
class CaseQuery:
    """The cases behind one number: ``equal`` columns, and the report's ``figure``."""

    equal: tuple[tuple[str, str], ...] = ()
    figure: str = "total"

    def clause(self, report: Report) -> ColumnElement[bool]:
        conditions = [report.filters.clause(), FIGURES[self.figure](report.as_of)]
        for name, value in self.equal:
            column = c[name]
            conditions.append(column.is_(None) if value == NONE else column == value)
        return and_(*conditions)

    def parameters(self, report: Report) -> list[tuple[str, str]]:
        """The query as URL parameters: the report's filters and moment, then this query's."""
        filters = [(k, v) for k, v in report.filters.as_dict().items() if v is not None]
        moment = report.as_of.isoformat() + "Z"
        return [*filters, *self.equal, ("figure", self.figure), ("now", moment)]


class CaseLinks(Protocol):
    """Where the page's numbers lead."""

    def href(self, query: CaseQuery, caption: str, back: str) -> str:
        """The link of the number that counts ``query``'s cases (``caption`` names them;
        ``back`` is the id of the element the number stands in)."""

    def appendix(self, labels: Labels) -> str:
        """HTML to put at the end of the page (the lists the links lead to), or nothing."""


@dataclass
class QueryLinks:
    """Links to the service's case list, e.g. ``/cases?community=...&figure=open``."""

    report: Report
    base: str = "/cases"

    def href(self, query: CaseQuery, caption: str, back: str) -> str:
        return f"{self.base}?{urlencode(query.parameters(self.report))}"

    def appendix(self, labels: Labels) -> str:
        return ""


@dataclass
class InPageCases:
    """Links to tables of the cases inside the file: a self-contained page needs no server."""

    read_model: ReadModel
    report: Report
    shown: int = SHOWN
    lists: dict[CaseQuery, tuple[str, str, str]] = field(default_factory=dict)
    """query → (anchor, caption, back), in the order the page links to them."""

    def href(self, query: CaseQuery, caption: str, back: str) -> str:
        if query not in self.lists:
            self.lists[query] = (f"cases-{len(self.lists) + 1}", caption, back)
        return "#" + self.lists[query][0]

    def rows(self, query: CaseQuery) -> tuple[list[Any], int]:
        """The first cases of ``query`` (newest first) and how many there are in all."""
        clause = query.clause(self.report)
        listed = (select(c.id, c.title, c.state, c.unit, c.opened_at).where(clause)
                  .order_by(c.opened_at.desc(), c.id).limit(self.shown))
        with self.read_model.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(case_summary)
                                 .where(clause)).scalar_one()
            return list(conn.execute(listed)), total

    def appendix(self, labels: Labels) -> str:
        return "".join(self._list(query, *place, labels) for query, place in self.lists.items())

    def _list(self, query: CaseQuery, anchor: str, caption: str, back: str,
              labels: Labels) -> str:
        rows, total = self.rows(query)
        head = "".join(f"<th>{escape(labels.text(key))}</th>" for key in
                       ("case_id", "case_title", "case_state", "case_unit", "case_opened"))
        body = "".join(
            f"<tr><td><code title=\"{escape(row.id)}\">{escape(row.id[:8])}</code></td>"
            f"<td>{escape(row.title or '—')}</td>"
            f"<td>{escape(labels.value('state', row.state))}</td>"
            f"<td>{escape(labels.unit(row.unit))}</td>"
            f"<td>{row.opened_at:%Y-%m-%d %H:%M}</td></tr>" for row in rows)
        more = total - len(rows)
        tail = (f"<p class=more>{escape(labels.text('and_more', count=more))}</p>"
                if more else "")
        if not rows:
            tail = f"<p>{escape(labels.text('no_cases'))}</p>"
        title = labels.text("list_of", caption=caption, count=total)
        return (f"<section class=drill id={anchor} data-count={total}>"
                f"<h3>{escape(title)}</h3><table class=cases><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>{tail}"
                f"<p><a href=\"#{escape(back)}\">{escape(labels.text('back'))}</a>"
                f"</p></section>")
