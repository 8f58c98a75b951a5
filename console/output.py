"""How commands print: JSON, times, tables, progress, and one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
import unicodedata
from datetime import datetime
from typing import Any, NoReturn

import click

from casework.audit import Finding
from casework.jsonable import json_default
from projections.i18n import N_, Names, _, ngettext
from projections.rendering import table, width

UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def one_line(text: str) -> str:
    """``text`` on one line and safe for a terminal: messages quote what the user gave, and a
    line break, escape sequence or byte that was not UTF-8 in it is shown escaped."""
    return "".join(repr(char)[1:-1] if unicodedata.category(char) in UNPRINTABLE else char
                   for char in text)


def shown(value: Any) -> str:
    """A stored value as ``show`` and ``history`` print it: escaped like ``one_line``, so that
    what a resident or an import typed (a right-to-left override, an escape sequence, a line
    break) is seen for what it is rather than acting on the terminal."""
    return one_line(str(value))


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, and the exit code."""
    click.echo(f"casework: {one_line(message)}", err=True)
    sys.exit(code)


_UNPRINTABLE_TEXT = re.compile("[^\\n\\x20-\\x7e]")  # the line breaks of the indentation stay


def to_json(value: Any) -> str:
    """JSON, readable: text as it is, but what ``one_line`` escapes as a \\u escape (the same
    value to a JSON reader; inert on a terminal)."""
    text = json.dumps(value, default=json_default, ensure_ascii=False, indent=2)
    return _UNPRINTABLE_TEXT.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in UNPRINTABLE:
        return char
    return json.dumps(char)[1:-1]  # \uXXXX, or a surrogate pair beyond the first plane


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    zone = moment.tzname() or ""
    if zone.startswith(("UTC+", "UTC-")):  # a bare offset, which datetime calls UTC+08:00
        zone = zone[3:]
    return f"{moment:%Y-%m-%d %H:%M} {zone}".strip()


def event_count(count: int) -> str:
    return ngettext("{count} event", "{count} events", count).format(count=count)


def case_count(count: int) -> str:
    return ngettext("{count} case", "{count} cases", count).format(count=count)


def more_listed(count: int) -> str:
    """The line under a list cut short in text."""
    return _("... and {count} more (--json lists all)").format(count=count)


def entry_count(count: int) -> str:
    return ngettext("{count} entry", "{count} entries", count).format(count=count)


def line_count(count: int) -> str:
    return ngettext("{count} line", "{count} lines", count).format(count=count)


def row_count(count: int) -> str:
    return ngettext("{count} row", "{count} rows", count).format(count=count)


def revisit_count(count: int) -> str:
    return ngettext("{count} revisit", "{count} revisits", count).format(count=count)


def finding_count(count: int) -> str:
    return ngettext("{count} finding", "{count} findings", count).format(count=count)


def listed(items: list[str]) -> str:
    """Items one after the other, as a sentence lists them (a, b, c)."""
    # TRANSLATORS: what separates the items of a list in a sentence ("1 header, 1 closing").
    return _(", ").join(items)


def finding_line(finding: Finding) -> str:
    """An audit's finding as one line, case and event first; its
    description is the engine's, as --json gives it."""
    case = finding.case_id or _("(store)")
    if finding.version is None:
        return _("{case}: {description}").format(case=case, description=finding.description)
    return _("{case}  event {version}: {description}").format(
        case=case, version=finding.version, description=finding.description)


HISTORY_HEADERS = ["#", N_("at"), N_("who (role)"), N_("trigger"), N_("from → to"),
                   N_("fields")]
NARROWEST_FIELDS = 30
UNBOUNDED_FIELDS = 60
"""The fields' width when the output is no terminal (a pipe, a file) and $COLUMNS is unset."""


def history_table(entries: list[Any], full: bool = False, columns: int | None = None,
                  names: Names | None = None) -> str:
    """A case's timeline: when, who (role), trigger, from → to, and fields in what is left of
    the terminal's width: shortened to one line, or with ``full`` every value, wrapped.
    Stored text is ``shown`` (escaped), so it cannot act on the terminal. Triggers and
    states as ``names`` calls them in the current language."""
    names = names or Names()
    if columns is None and (sys.stdout.isatty() or "COLUMNS" in os.environ):
        columns = shutil.get_terminal_size().columns
    rows = [[str(entry.sequence), when(entry.at), shown(f"{entry.actor} ({entry.role})"),
             shown(names.trigger(entry.trigger)),
             shown(f"{names.state(entry.from_state) if entry.from_state else '·'} → "
                   f"{names.state(entry.to_state)}")]
            for entry in entries]
    headers = [_(header) for header in HISTORY_HEADERS]
    taken = sum(max([width(h), *(width(row[n]) for row in rows)]) + 2
                for n, h in enumerate(headers[:-1]))
    room = UNBOUNDED_FIELDS if columns is None else max(columns - taken, NARROWEST_FIELDS)
    lines: list[list[str]] = []
    for row, entry in zip(rows, entries, strict=True):
        fields = shown(", ".join(f"{k}={v}" for k, v in entry.fields.items()))
        if not full:
            lines.append([*row, fields if width(fields) <= room else fields[:room - 3] + "..."])
            continue
        wrapped = textwrap.wrap(fields, room) or [""]
        lines.append([*row, wrapped[0]])
        lines += [["", "", "", "", "", more] for more in wrapped[1:]]
    return table(lines, headers)
