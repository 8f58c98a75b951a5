"""The charts' JavaScript: vega-embed with Vega and Vega-Lite in one file, kept beside this
module (``static/vega-embed.bundle.js``, 877 KiB) with its licences, and inlined once into
every page so that the page needs no network.

The file was made by vl-convert, which is not installed with casework: regenerate it (after
changing ``VEGA_LITE_VERSION`` to a version Altair's schema also has) with

    pip install vl-convert-python altair
    python -m projections.report_page.bundle

The tests check that the file is the Vega-Lite of ``VEGA_LITE_VERSION`` and that every chart
the page draws is valid against Altair's schema of that version.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
BUNDLE = STATIC / "vega-embed.bundle.js"
LICENSES = STATIC / "vega-embed.bundle.LICENSES.txt"
VEGA_LITE_VERSION = "6.4.1"
SCHEMA = f"https://vega.github.io/schema/vega-lite/v{VEGA_LITE_VERSION}.json"
"""The ``$schema`` of every chart: vega-embed reads the version from it (it fetches nothing)."""
NOTICE = ("/*! vega-embed, Vega, Vega-Lite, vega-tooltip, vega-themes (BSD-3-Clause, University "
          "of Washington Interactive Data Lab); d3 (ISC, Mike Bostock); and others: see "
          "vega-embed.bundle.LICENSES.txt in casework's projections/report_page/static. */\n")


@cache
def script() -> str:
    """The bundle as it goes inside a ``<script>`` element: with its notice, and with no
    ``</script`` in it that would end the element early."""
    text = BUNDLE.read_text(encoding="utf-8")
    return NOTICE + text.replace("</script", "<\\/script")


def main() -> None:
    """Write the bundle anew with vl-convert (a development tool only)."""
    import vl_convert  # only here: a 30 MB development tool, not a dependency of casework

    major, minor, _ = VEGA_LITE_VERSION.split(".")
    BUNDLE.write_text(vl_convert.javascript_bundle(vl_version=f"v{major}_{minor}"),
                      encoding="utf-8")
    print(f"wrote {BUNDLE} ({BUNDLE.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
