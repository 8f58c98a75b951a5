"""How commands print: JSON, times, tables, progress, and one-line errors."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from datetime import datetime
from typing import Any, NoReturn

import click

from casework.jsonable import json_default
from projections.rendering import table

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
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def amount(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def history_table(entries: list[Any]) -> str:
    """A case's timeline: when, who (role), trigger, from → to, fields (shortened)."""
    rows = []
    for entry in entries:
        fields = shown(", ".join(f"{k}={v}" for k, v in entry.fields.items()))
        if len(fields) > 60:
            fields = fields[:57] + "..."
        rows.append([str(entry.sequence), when(entry.at), shown(f"{entry.actor} ({entry.role})"),
                     shown(entry.trigger), shown(f"{entry.from_state or '·'} → {entry.to_state}"),
                     fields])
    return table(rows, ["#", "at", "who (role)", "trigger", "from → to", "fields"])


def progress_bar(length: int, label: str) -> Any:
    """A progress bar on a terminal; silent otherwise (logs, pipes, CI)."""
    if sys.stderr.isatty():
        return click.progressbar(length=length, label=label, file=sys.stderr)
    return _Silent()


class _Silent:
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: int) -> None:
        return None
