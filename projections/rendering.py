"""The report as people read it: a terminal table and lines, or CSV rows. Every entrypoint
renders a ``Report`` through here, so the figures read the same wherever they are shown."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, tzinfo

from .report import OVERALL, Deadlines, Figures, Report

FIGURE_HEADERS = ["", "cases", "open", "closed", "resolved", "resolution", "local",
                  "deadlines met", "overdue", "median h", "satisfaction", "reopened"]
CSV_HEADERS = ["group", "cases", "open", "closed", "resolved", "resolution_rate",
               "local_resolution_rate", "sla_compliance", "open_overdue",
               "median_hours_to_close", "mean_satisfaction", "reopen_rate"]
SHOWN_HOT_SPOTS = 6


def width(text: str) -> int:
    """Columns the text takes on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Rows under headers, in columns as wide as their widest cell."""
    columns = zip(headers, *rows, strict=False)
    widths = [max(width(str(cell)) for cell in column) for column in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(str(cell) + " " * (w - width(str(cell)))
                         for cell, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line(row) for row in rows)])


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def report_text(report: Report, zone: tzinfo = UTC) -> str:
    """The report as a table and lines, closing with the moment its deadlines were judged
    at (in ``zone``, the office's time zone)."""
    f = report.figures
    rows = [_figure_row("all cases", f)] + [_figure_row(g.key, g.figures) for g in report.groups]
    judged = report.as_of.replace(tzinfo=UTC).astimezone(zone)
    parts = [table(rows, FIGURE_HEADERS), ""]
    parts.append("by stage   " + " · ".join(f"{k} {v}" for k, v in f.by_stage.items()))
    parts.append("channels   " + " · ".join(f"{k} {v}" for k, v in f.by_channel.items()))
    for label, clock in (("deadlines  ", f.sla), ("contact    ", f.contact)):
        # deadlines: the resolution clock; contact: reaching the petitioner
        counts = [f"{grade} {percent(s.compliance)} ({s.met} met, {s.breached} late, "
                  f"{s.open_overdue} overdue)" for grade, s in clock.items() if grade != OVERALL]
        if counts:
            parts.append(label + " · ".join(counts))
    if f.escalations.cases:
        parts.append(f"escalated  {f.escalations.cases} cases "
                     f"({percent(f.escalations.rate)}), {f.escalations.total} escalations")
    times = f.time_to_close_hours
    if times.count:
        parts.append(f"to close   median {times.median} h, 90% within {times.p90} h")
    sat = f.satisfaction
    if sat.count:
        dist = " ".join(f"{k}★{v}" for k, v in sat.distribution.items())
        parts.append(f"revisits   {sat.count} rated, mean {sat.mean}: {dist}")
    if f.hot_spots:
        parts.append("hot spots  " + " · ".join(
            f"{h.category} in {h.community.rsplit('/', 1)[-1]} ({h.count})"
            for h in f.hot_spots[:SHOWN_HOT_SPOTS]))
    parts += _section_lines(f)
    parts.append(f"judged at {judged:%Y-%m-%d %H:%M} {zone} (--now): open cases past their "
                 "deadline then count as overdue")
    return "\n".join(parts)


def _section_lines(f: Figures) -> list[str]:
    """One line per figure of the workflows' own sections that has anything to show."""
    lines = []
    for name, section in f.sections.items():
        label = name.replace("_", " ")
        for value in section.values():
            if isinstance(value, dict) and value:
                lines.append(f"{label}  " + " · ".join(
                    f"{k} {v}" for k, v in sorted(value.items(), key=lambda kv: -kv[1])))
        counts = {figure: value for figure, value in section.items() if isinstance(value, int)}
        if counts and next(iter(counts.values())):
            lines.append(f"{label}  " + " · ".join(f"{k} {v}" for k, v in counts.items()))
    return lines


def _figure_row(label: str, f: Figures) -> list[str]:
    sla = f.sla.get(OVERALL, Deadlines())
    return [label, str(f.total), str(f.open), str(f.closed), str(f.resolved),
            percent(f.resolution_rate), percent(f.local_resolution_rate),
            percent(sla.compliance), str(sla.open_overdue),
            "-" if f.time_to_close_hours.median is None
            else f"{f.time_to_close_hours.median:.0f}",
            "-" if f.satisfaction.mean is None else f"{f.satisfaction.mean:.2f}",
            percent(f.reopen_rate)]


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for label, figures in [("all", report.figures),
                           *[(g.key, g.figures) for g in report.groups]]:
        sla = figures.sla.get(OVERALL, Deadlines())
        writer.writerow([label, figures.total, figures.open, figures.closed, figures.resolved,
                         figures.resolution_rate, figures.local_resolution_rate,
                         sla.compliance, sla.open_overdue, figures.time_to_close_hours.median,
                         figures.satisfaction.mean, figures.reopen_rate])
    return out.getvalue()
