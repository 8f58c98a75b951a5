"""The report as one self-contained HTML page: its charts drawn by Vega-Lite in the browser
from specs made here, its tables, and the report's JSON, in one file that needs no network.

Every figure comes from the ``Report``, as does ``casework report --json``: the page carries
that JSON (``<script id=report-json>``), so the page and the command can be compared.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from string import Template
from typing import Any

from casework.jsonable import json_default
from casework.organisation import Organisation

from ..report import Report
from .bundle import STATIC, script
from .cases import CaseLinks
from .labels import Labels
from .section import Page, Section
from .sections import SECTIONS


@cache
def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def render_report_page(report: Report, lang: str = "en", *,
                       organisation: Organisation | None = None,
                       links: CaseLinks | None = None) -> str:
    """The page of ``report`` in ``lang`` ("en" or "zh"): units by their names in
    ``organisation``; each number of a ranking or heat table a link where ``links`` says
    (``InPageCases``: tables of the cases in the file; ``QueryLinks``: a service's URLs)."""
    labels = Labels(lang, organisation)
    page = Page(report, labels, links)
    sections = [section for make in SECTIONS for section in make(page)]
    specs = {s.key: s.chart for s in sections if s.chart is not None}
    return Template(_static("page.html")).substitute(
        lang="zh-CN" if lang == "zh" else lang,
        title=escape(labels.text("title")),
        css=_static("page.css"),
        bundle=script(),
        header=_header(report, labels),
        sections="\n".join(_card(s) for s in sections),
        appendix=links.appendix(labels) if links is not None else "",
        footer=escape(labels.text("made_by", command=command_line(report))),
        report_json=script_json(report.as_dict()),
        specs_json=script_json(specs),
        boot=_static("page.js"),
    )


def _card(section: Section) -> str:
    classes = "card wide" if section.wide else "card"
    subtitle = f"<p class=subtitle>{escape(section.subtitle)}</p>" if section.subtitle else ""
    body = section.html
    if section.chart is not None:
        body += (f"<div class=chart id=\"chart-{escape(section.key)}\" role=img "
                 f"aria-label=\"{escape(section.title)}\"></div>")
    return (f"<section class=\"{classes}\" id=\"{escape(section.key)}\" "
            f"data-figure=\"{escape(section.key)}\"><h2>{escape(section.title)}</h2>"
            f"{subtitle}{body}<p class=note>{escape(section.note)}</p></section>")


def _header(report: Report, labels: Labels) -> str:
    filters = report.filters
    parts = []
    if filters.since is not None:
        parts.append(labels.text("since", moment=filters.since.isoformat()))
    if filters.until is not None:
        parts.append(labels.text("until", moment=filters.until.isoformat()))
    if filters.kind:
        parts.append(labels.text("of_kind", kind=labels.value("kind", filters.kind)))
    if filters.unit:
        parts.append(labels.text("of_unit", unit=labels.unit(filters.unit.strip("/"))))
    line = " · ".join(parts) or labels.text("all_cases")
    judged = labels.text("judged_at", moment=f"{report.as_of:%Y-%m-%d %H:%M} UTC")
    return f"<p>{escape(judged)}</p><p>{escape(line)}</p>"


def command_line(report: Report) -> str:
    """The ``casework report --json`` that gives the page's figures."""
    words = ["casework", "report", "--json"]
    for name, value in report.filters.as_dict().items():
        if value is not None:
            words += [f"--{name}", str(value)]
    if report.by:
        words += ["--by", report.by]
    words += ["--now", report.as_of.isoformat() + "Z"]
    return " ".join(words)


def script_json(value: Any) -> str:
    """JSON to put inside a ``<script>`` element: no ``<`` in it can close the element."""
    text = json.dumps(value, default=json_default, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
