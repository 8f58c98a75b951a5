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

from .i18n import ENGLISH, N_, catalogue
from .report_page import render_report_page
from .report_page.labels import Labels
from .whatif import WhatIf

LISTED = 200
"""Changed cases the page lists (``--json`` has them all)."""
FIGURE_HEADERS = (N_("figure"), N_("in force"), N_("candidate"))
HEADERS = (N_("case"), N_("kind"), N_("grade"), N_("clock"), N_("in force"), N_("candidate"))

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
    """One HTML file: what changes, then both report pages side by side, in ``lang``."""
    _ = catalogue(lang).gettext
    sides = [(title, render_report_page(report, lang, organisation=organisation))
             for title, report in ((_("policy in force"), result.in_force),
                                   (_("candidate"), result.candidate))]
    frames = "".join(f'<section><h2>{escape(title)}</h2><iframe title="{escape(title)}" '
                     f'srcdoc="{escape(page, quote=True)}"></iframe></section>'
                     for title, page in sides)
    title, heading = _("What if"), _("What if: the policy in force and the candidate")
    return ("<!doctype html>\n"
            f'<html lang="{escape(lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(heading)}</h1>"
            f"{_figures(result.figures, lang)}{_cases(result, lang, organisation)}"
            f'<div class="pair">{frames}</div></body></html>\n')


def _figures(figures: list[tuple[str, Any, Any]], lang: str) -> str:
    _ = catalogue(lang).gettext
    rows = "".join(f'<tr><td>{escape(path)}</td><td class="n">{_shown(before)}</td>'
                   f'<td class="n">{_shown(after)}</td></tr>'
                   for path, before, after in figures)
    heading = _("Figures that differ ({count})").format(count=len(figures))
    header = "".join(f"<th>{escape(_(name))}</th>" for name in FIGURE_HEADERS)
    return f"<h2>{escape(heading)}</h2><table><tr>{header}</tr>{rows}</table>"


def _cases(result: WhatIf, lang: str, organisation: Organisation | None) -> str:
    _ = catalogue(lang).gettext
    labels = Labels(lang, organisation)

    def kind(name: str) -> str:
        return name if lang == ENGLISH else labels.value("kind", name)

    rows = "".join(
        f"<tr><td><code>{escape(case.case_id)}</code></td><td>{escape(kind(case.kind))}</td>"
        f"<td>{escape(case.grade or '')}</td><td>{escape(_(case.clock))}</td>"
        f"<td>{escape(_verdict(_, case.in_force))}</td>"
        f"<td>{escape(_verdict(_, case.candidate))}</td></tr>"
        for case in result.changed_cases[:LISTED])
    more = len(result.changed_cases) - LISTED
    more_line = _("... and {count} more (--json lists all)").format(count=more)
    tail = f"<p>{escape(more_line)}</p>" if more > 0 else ""
    heading = _("Cases judged differently: {count}").format(count=len(result.changed_cases))
    counts = _("Escalations by the sweep that would change: {escalations}; recorded commands "
               "the candidate would refuse: {refused}.").format(
        escalations=len(result.escalations), refused=len(result.illegal))
    header = "".join(f"<th>{escape(_(name))}</th>" for name in HEADERS)
    return (f"<details><summary>{escape(heading)}</summary><table><tr>{header}</tr>{rows}"
            f"</table>{tail}</details><p>{escape(counts)}</p>")


def _verdict(_: Any, verdict: str | None) -> str:
    """A verdict in the page's language; a case the clock does not judge (no clock)."""
    return _("not judged") if verdict is None else _(verdict)


def _shown(value: Any) -> str:
    return "—" if value is None else escape(str(value))
