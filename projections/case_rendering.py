"""A list of cases as people read it: a terminal table, or CSV rows; times in the office's
time zone. Every entrypoint renders a ``CasePage`` through here."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime, tzinfo

from .case_list import CasePage, CaseRow
from .i18n import N_, Names, _
from .rendering import table, width

SHORT_ID = 8
CLOCK_NAMES = {"contact": N_("contact"), "resolve": N_("resolve")}
"""The two clocks of a case (``show``, the sweep's due soon), as the language says them."""
TITLE_WIDTH = 40


def local(moment: datetime | None, zone: tzinfo) -> str:
    return "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Characters a list shows escaped (as the command line's messages do): what a resident or
an import typed must not turn a line around or recolour the terminal."""


def printable(text: str) -> str:
    return "".join(repr(char)[1:-1] if unicodedata.category(char) in UNPRINTABLE else char
                   for char in text)


def shortened(text: str | None, most: int) -> str:
    text = printable(text or "")
    if width(text) <= most:
        return text
    while width(text) > most - 1:
        text = text[:-1]
    return text + "…"


HEADERS = [N_("case"), N_("kind"), N_("state"), N_("unit"), N_("grade"), N_("deadline"),
           N_("title")]


def cases_text(page: CasePage, zone: tzinfo, names: Names | None = None) -> str:
    """The page as a table (id prefix, kind, state, unit, grade, deadline, title; with what
    the actor may do in the ``mine`` queue), and a line saying where it stands. Kinds,
    states, units and triggers as ``names`` calls them in the current language."""
    names = names or Names()
    mine = page.query.queue == "mine"
    headers = [_(header) for header in HEADERS]
    if mine:
        headers.append(_("you may"))
    rows = [_cells(row, zone, mine, names) for row in page.rows]
    lines = [table(rows, headers)] if rows else [_("no cases")]
    lines.append(position(page, zone))
    return "\n".join(lines)


def _cells(row: CaseRow, zone: tzinfo, mine: bool, names: Names) -> list[str]:
    deadline = local(row.deadline, zone) + (_(" overdue") if row.overdue else "")
    cells = [str(row.id)[:SHORT_ID], names.value("kind", row.kind),
             names.state(row.state, row.kind), printable(names.unit(row.unit)),
             printable(row.grade or "-"),
             deadline, shortened(row.title, TITLE_WIDTH)]
    if mine:
        cells.append(", ".join(names.trigger(action, row.kind) for action in row.actions))
    return cells


def position(page: CasePage, zone: tzinfo) -> str:
    """"cases 1–20 of 312, deadlines judged at ...; next page: --page 2"."""
    shown = len(page.rows)
    if page.offset is not None and shown:
        span = _("cases {first}–{last}").format(first=page.offset + 1,
                                                 last=page.offset + shown)
    else:
        span = _("{count} cases").format(count=shown)
    if page.total is not None:
        span += _(" of {total}").format(total=page.total)
    line = _("{span}, as of {moment}").format(span=span, moment=local(page.as_of, zone))
    if page.next_cursor is not None and page.query.after is None:
        line += _("; next page: --page {page} or --after {cursor}").format(
            page=page.query.page + 1, cursor=page.next_cursor)
    elif page.next_cursor is not None:
        line += _("; next page: --after {cursor}").format(cursor=page.next_cursor)
    return line


CSV_COLUMNS = ("id", "kind", "version", "state", "stage", "unit", "grade", "category",
               "channel", "title", "place", "assignee", "opened_at", "updated_at", "closed_at",
               "deadline", "overdue", "escalations", "reopens", "actions")


def cases_csv(page: CasePage) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in page.rows:
        values = row.as_dict()
        writer.writerow([_csv_value(values[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def _csv_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return " ".join(value)
    return "" if value is None else value
