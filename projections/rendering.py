"""The report as people read it: a terminal table and lines, or CSV rows. Every entrypoint
renders a ``Report`` through here, so the figures read the same wherever they are shown."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, tzinfo

from .i18n import N_, Names, _
from .report import OVERALL, Deadlines, Figures, Report
from .three_rates import ThreeRates, UnitAccount

FIGURE_HEADERS = ["", N_("cases"), N_("open"), N_("closed"), N_("resolved"), N_("resolution"),
                  N_("local"), N_("deadlines met"), N_("overdue"), N_("median h"),
                  N_("satisfaction"), N_("reopened")]
CSV_HEADERS = ["group", "cases", "open", "closed", "resolved", "resolution_rate",
               "local_resolution_rate", "sla_compliance", "open_overdue", "sla_met", "sla_late",
               "contact_compliance", "contact_met", "contact_late", "contact_open_overdue",
               "median_hours_to_close", "mean_satisfaction", "reopen_rate",
               "rates_valid_visits", "rates_response", "rates_resolution", "rates_satisfaction",
               "rates_composite"]
"""``rates_*``: the three rates (三率); ``rates_resolution`` is 解决率, the petitioners' word,
where ``resolution_rate`` is the handlers'. ``sla_*`` and ``open_overdue``: the resolution
clock; ``contact_*``: the contact clock (empty where no case has one)."""
SHOWN_HOT_SPOTS = 6
RANKING_HEADERS = [N_("rank"), "", N_("received"), N_("from below"), N_("escalated up"),
                   N_("held h"), N_("contacted in time"), N_("resolved in time"),
                   N_("breaches"), N_("sent back"), N_("valid"), "响应率", "解决率", "满意率",
                   N_("score")]
RANKED_BY = {"unit": N_("unit"), "community": N_("community"), "grid": N_("grid")}


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


LABEL_WIDTH = 11


def labelled(label: str, text: str, column: int = LABEL_WIDTH) -> str:
    """A line of text after its label, the label padded to ``column`` terminal columns (a
    Chinese character takes two) and followed by at least one space."""
    return label + " " * max(1, column - width(label)) + text


def report_text(report: Report, zone: tzinfo = UTC, names: Names | None = None) -> str:
    """The report as a table and lines, closing with the moment its deadlines were judged
    at (in ``zone``, the office's time zone); values and units as ``names`` calls them in
    the current language."""
    names = names or Names()
    f = report.figures
    rows = [_figure_row(_("all cases"), f)] + [
        _figure_row(names.value(report.by or "", g.key), g.figures) for g in report.groups]
    judged = report.as_of.replace(tzinfo=UTC).astimezone(zone)
    parts = [table(rows, [_(header) for header in FIGURE_HEADERS]), ""]
    parts.append(labelled(_("by stage"), " · ".join(
        f"{names.value('stage', k)} {v}" for k, v in f.by_stage.items())))
    if f.by_channel:  # no line at all for a report without cases
        parts.append(labelled(_("channels"), " · ".join(
            f"{names.value('channel', k)} {v}" for k, v in f.by_channel.items())))
    # deadlines: the resolution clock; contact: reaching the petitioner
    for label, clock in ((_("deadlines"), f.sla), (_("contact"), f.contact)):
        counts = [_("{grade} {compliance} ({met} met, {late} late, {overdue} overdue)").format(
            grade=grade, compliance=percent(s.compliance), met=s.met, late=s.breached,
            overdue=s.open_overdue) for grade, s in clock.items() if grade != OVERALL]
        if counts:
            parts.append(labelled(label, " · ".join(counts)))
    if f.escalations.cases:
        parts.append(labelled(_("escalated"), _(
            "{cases} cases ({rate}), {total} escalations").format(
            cases=f.escalations.cases, rate=percent(f.escalations.rate),
            total=f.escalations.total)))
    times = f.time_to_close_hours
    if times.count:
        parts.append(labelled(_("to close"), _("median {median} h, 90% within {p90} h").format(
            median=times.median, p90=times.p90)))
    sat = f.satisfaction
    if sat.count:
        dist = " ".join(f"{k}★{v}" for k, v in sat.distribution.items())
        parts.append(labelled(_("revisits"), _("{count} rated, mean {mean}: {spread}").format(
            count=sat.count, mean=sat.mean, spread=dist)))
    if f.hot_spots:
        parts.append(labelled(_("hot spots"), " · ".join(
            _("{category} in {community} ({count})").format(
                category=names.value("category", h.category), count=h.count,
                community=_short_unit(names, h.community))
            for h in f.hot_spots[:SHOWN_HOT_SPOTS])))
    parts += _section_lines(f, names)
    parts += assessment_lines(report, names)
    parts.append(_("judged at {moment} {zone} (--now): open cases past their deadline then "
                   "count as overdue").format(moment=f"{judged:%Y-%m-%d %H:%M}", zone=zone))
    return "\n".join(parts)


def rates_text(rates: ThreeRates) -> str:
    return _("{valid} valid visits of {visits} · 响应率 {response} · 解决率 {resolution} · "
             "满意率 {satisfaction} · score {score}").format(
        valid=rates.valid, visits=rates.visits, response=percent(rates.response_rate),
        resolution=percent(rates.resolution_rate),
        satisfaction=percent(rates.satisfaction_rate),
        score="-" if rates.composite is None else rates.composite)


def assessment_lines(report: Report, names: Names) -> list[str]:
    """The three rates, how far each kind and channel has come, and the units' ranking."""
    lines = []
    if report.figures.three_rates is not None:
        lines.append(labelled("三率", rates_text(report.figures.three_rates) + "  " + _(
            "(the resolution column is the handlers' own word, not 解决率)")))
    assessment = report.assessment
    if assessment is None:
        return lines
    for label, kind, progress in ((_("kinds"), "kind", assessment.progress_by_kind),
                                  (_("channels"), "channel", assessment.progress_by_channel)):
        if not progress:
            continue
        lines.append(labelled(label, " · ".join(
            _("{key} {collected} collected, {resolved} resolved, {open} in progress").format(
                key=names.value(kind, key), collected=p["collected"], resolved=p["resolved"],
                open=p["in_progress"]) for key, p in progress.items())))
    if assessment.ranking:
        lines += ["", ranking_text(report, names), ""]
    return lines


def ranking_text(report: Report, names: Names | None = None) -> str:
    """The units' (communities', grids') accounts as ranked (empty without a ranking)."""
    if report.assessment is None or not report.assessment.ranking:
        return ""
    names = names or Names()
    return "\n".join([
        _("ranking by {by} (composite score of the three rates)").format(
            by=_(RANKED_BY.get(report.by or "", report.by or ""))),
        table([_ranking_row(account, names.value(report.by or "", account.key))
               for account in report.assessment.ranking],
              [_(header) if header else header for header in RANKING_HEADERS])])


def _ranking_row(account: UnitAccount, name: str) -> list[str]:
    rates = account.three_rates
    return ["-" if account.rank is None else str(account.rank), name,
            str(account.received), str(account.from_below), str(account.escalated_up),
            f"{account.held_hours:.0f}", str(account.contacted_in_time),
            str(account.resolved_in_time), str(account.breaches), str(account.sent_back),
            str(rates.valid), percent(rates.response_rate), percent(rates.resolution_rate),
            percent(rates.satisfaction_rate),
            "-" if rates.composite is None else f"{rates.composite:.2f}"]


def _short_unit(names: Names, path: str) -> str:
    """A unit in a line of text: its name where the language has one, else its last part."""
    named = names.unit(path)
    return named if named != path else path.rsplit("/", 1)[-1]


def _section_lines(f: Figures, names: Names) -> list[str]:
    """One line per figure of the workflows' own sections that has anything to show."""
    lines = []
    for name, section in f.sections.items():
        label = names.value("section", name).replace("_", " ")
        for value in section.values():
            if isinstance(value, dict) and value:
                lines.append(f"{label}  " + " · ".join(
                    f"{names.value('category', k)} {v}"
                    for k, v in sorted(value.items(), key=lambda kv: -kv[1])))
        counts = {figure: value for figure, value in section.items() if isinstance(value, int)}
        if counts and next(iter(counts.values())):
            lines.append(f"{label}  " + " · ".join(
                f"{names.value('figure', k)} {v}" for k, v in counts.items()))
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
                         sla.compliance, sla.open_overdue, sla.met, sla.breached,
                         *_contact_cells(figures.contact.get(OVERALL)),
                         figures.time_to_close_hours.median,
                         figures.satisfaction.mean, figures.reopen_rate,
                         *_rates_cells(figures.three_rates)])
    return out.getvalue()


def _contact_cells(contact: Deadlines | None) -> list[object]:
    if contact is None:
        return [None] * 4
    return [contact.compliance, contact.met, contact.breached, contact.open_overdue]


def _rates_cells(rates: ThreeRates | None) -> list[object]:
    if rates is None:
        return [None] * 5
    return [rates.valid, rates.response_rate, rates.resolution_rate, rates.satisfaction_rate,
            rates.composite]
