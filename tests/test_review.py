"""What a review of issues 13, 16 and 19 found, as a new user and a Chinese clerk would:
one regression test per finding (each failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import assert_one_line_error, invoke


@pytest.fixture()
def opened(tmp_path: Path) -> str:
    """A SQLite store with one petition opened by the command line: its URL."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    result = invoke("open", "petition", "-f", "channel=hotline", "-f", "title=Blocked drain",
                    "--actor", "li", "--role", "intake", "--db", db)
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("command", [("report",), ("whatif", "--grade", "B.resolve=48h")])
def test_an_html_page_into_a_missing_folder_names_the_users_path(
        opened: str, tmp_path: Path, command: tuple[str, ...]) -> None:
    """As export -o (issue 13 item 10): exit 2 naming the path, not click's temporary file."""
    missing = tmp_path / "missing" / "page.html"
    line = assert_one_line_error(invoke(*command, "--html", str(missing), "--db", opened), 2,
                                 str(missing), "no folder")
    assert ".__atomic-write" not in line
