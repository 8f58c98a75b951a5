"""Progress of a long command on stderr: a bar on a terminal, nothing in logs, pipes, CI or
with --quiet."""

from __future__ import annotations

import sys
from typing import Any

import click

from .settings import quiet


def progress_bar(length: int, label: str) -> Any:
    """A progress bar on a terminal; silent otherwise (logs, pipes, CI, --quiet)."""
    if sys.stderr.isatty() and not quiet():
        return click.progressbar(length=length, label=label, file=sys.stderr)
    return _Silent()


class _Silent:
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: int) -> None:
        return None
