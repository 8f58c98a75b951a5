"""``casework whatif --html FILE``: the report page under the policy in force and under the
candidate, side by side, under the figures and the cases that differ.

Each side is the report page itself (``projections.report_page``, its charts and tables),
embedded whole in a frame of its own (``srcdoc``), so the file opens in a browser without a
network, as the report page does.
"""

from __future__ import annotations

from html import escape
from typing import Any

from casework.organisation import Organisation

from .report_page import render_report_page
from .whatif import WhatIf

LISTED = 200
"""Changed cases the page lists (``--json`` has them all)."""

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border-bottom:1px solid #ddd;padding:.2rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
@media (max-width:60rem){.pair{grid-template-columns:1fr}}
iframe{width:100%;height:3000px;border:1px solid #ccc}
"""


def render_whatif_page(result: WhatIf, lang: str = "en",
                       organisation: Organisation | None = None) -> str:
    """One HTML file: what changes, then both report pages side by side."""
    sides = [(title, render_report_page(report, lang, organisation=organisation))
             for title, report in (("policy in force", result.in_force),
                                   ("candidate", result.candidate))]
    frames = "".join(f'<section><h2>{escape(title)}</h2><iframe title="{escape(title)}" '
                     f'srcdoc="{escape(page, quote=True)}"></iframe></section>'
                     for title, page in sides)
    return ("<!doctype html>\n"
            f'<html lang="{escape(lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>What if</title><style>{_STYLE}</style></head><body>"
            "<h1>What if: the policy in force and the candidate</h1>"
            f"{_figures(result.figures)}{_cases(result)}"
            f'<div class="pair">{frames}</div></body></html>\n')


def _figures(figures: list[tuple[str, Any, Any]]) -> str:
    rows = "".join(f'<tr><td>{escape(path)}</td><td class="n">{_shown(before)}</td>'
                   f'<td class="n">{_shown(after)}</td></tr>'
                   for path, before, after in figures)
    return (f"<h2>Figures that differ ({len(figures)})</h2><table><tr><th>figure</th>"
            f"<th>in force</th><th>candidate</th></tr>{rows}</table>")


def _cases(result: WhatIf) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(case.case_id)}</code></td><td>{escape(case.kind)}</td>"
        f"<td>{escape(case.grade or '')}</td><td>{escape(str(case.in_force))}</td>"
        f"<td>{escape(str(case.candidate))}</td></tr>"
        for case in result.changed_cases[:LISTED])
    more = len(result.changed_cases) - LISTED
    tail = f"<p>… and {more} more (--json lists all)</p>" if more > 0 else ""
    return (f"<details><summary>Cases judged differently: {len(result.changed_cases)}"
            "</summary><table><tr><th>case</th><th>kind</th><th>grade</th><th>in force</th>"
            f"<th>candidate</th></tr>{rows}</table>{tail}</details>"
            f"<p>Escalations by the sweep that would change: {len(result.escalations)}; "
            f"recorded commands the candidate would refuse: {len(result.illegal)}.</p>")


def _shown(value: Any) -> str:
    return "—" if value is None else escape(str(value))
