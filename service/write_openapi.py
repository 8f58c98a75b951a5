"""``python -m service.write_openapi``: write ``service/openapi.json`` again from the routes,
after a change of the API (a test fails while the file and the served document differ)."""

from __future__ import annotations

import sys

from .app import create_app
from .openapi import DOCUMENT, text


def main() -> int:
    DOCUMENT.write_text(text(create_app("sqlite:///:memory:")), encoding="utf-8")
    print(f"wrote {DOCUMENT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
