"""The report as people read it: a terminal table and lines, or CSV rows. Every entrypoint
renders a ``Report`` through here, so the figures read the same wherever they are shown."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, tzinfo

from .report import OVERALL, Deadlines, Figures, Report
from .three_rates import ThreeRates, UnitAccount

FIGURE_HEADERS = ["", "cases", "open", "closed", "resolved", "resolution", "local",
                  "deadlines met", "overdue", "median h", "satisfaction", "reopened"]
CSV_HEADERS = ["group", "cases", "open", "closed", "resolved", "resolution_rate",
               "local_resolution_rate", "sla_compliance", "open_overdue",
               "median_hours_to_close", "mean_satisfaction", "reopen_rate"]
SHOWN_HOT_SPOTS = 6
RANKING_HEADERS = ["rank", "", "received", "from below", "escalated up", "held h",
                   "contacted in time", "resolved in time", "breaches", "sent back", "valid",
                   "响应率", "解决率", "满意率", "score"]


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
    sla = [f"{grade} {percent(s.compliance)} ({s.met} met, {s.breached} late, "
           f"{s.open_overdue} overdue)" for grade, s in f.sla.items() if grade != OVERALL]
    if sla:
        parts.append("deadlines  " + " · ".join(sla))
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
    parts += assessment_lines(report)
    parts.append(f"judged at {judged:%Y-%m-%d %H:%M} {zone} (--now): open cases past their "
                 "deadline then count as overdue")
    return "\n".join(parts)


def rates_text(rates: ThreeRates) -> str:
    return (f"{rates.valid} valid visits of {rates.visits} · 响应率 "
            f"{percent(rates.response_rate)} · 解决率 {percent(rates.resolution_rate)} · 满意率 "
            f"{percent(rates.satisfaction_rate)} · score "
            f"{'-' if rates.composite is None else rates.composite}")


def assessment_lines(report: Report) -> list[str]:
    """The three rates, how far each kind and channel has come, and the units' ranking."""
    lines = []
    if report.figures.three_rates is not None:
        lines.append("三率       " + rates_text(report.figures.three_rates)
                     + "  (the 'resolution' column is the handlers' own, not 解决率)")
    assessment = report.assessment
    if assessment is None:
        return lines
    for label, progress in (("kinds", assessment.progress_by_kind),
                            ("channels", assessment.progress_by_channel)):
        lines.append(f"{label:<10} " + " · ".join(
            f"{key} {p['collected']} collected, {p['resolved']} resolved, "
            f"{p['in_progress']} in progress" for key, p in progress.items()))
    if assessment.ranking:
        lines += ["", ranking_text(report), ""]
    return lines


def ranking_text(report: Report) -> str:
    """The units' (communities', grids') accounts as ranked (empty without a ranking)."""
    if report.assessment is None or not report.assessment.ranking:
        return ""
    return "\n".join([f"ranking by {report.by} (composite score of the three rates)",
                      table([_ranking_row(account) for account in report.assessment.ranking],
                            RANKING_HEADERS)])


def _ranking_row(account: UnitAccount) -> list[str]:
    rates = account.three_rates
    return ["-" if account.rank is None else str(account.rank), account.key,
            str(account.received), str(account.from_below), str(account.escalated_up),
            f"{account.held_hours:.0f}", str(account.contacted_in_time),
            str(account.resolved_in_time), str(account.breaches), str(account.sent_back),
            str(rates.valid), percent(rates.response_rate), percent(rates.resolution_rate),
            percent(rates.satisfaction_rate),
            "-" if rates.composite is None else f"{rates.composite:.2f}"]


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
