"""The page's cards for assessing units: the three rates (三率) of the revisits, the units'
ranking by the composite score, and how far the cases of each channel and kind have come.

Every number is the report's own (``Report.figures.three_rates``, ``Report.assessment``),
printed with all the digits the JSON has (rates to 0.01 %), so that the page and
``casework report --json`` can be compared figure by figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape

from ..report import Report
from ..three_rates import ThreeRates
from .charts import bars
from .section import Page, Section, card, number

RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
COUNTS = ("visits", "valid", "contacted", "solved", "satisfied", "basically_satisfied",
          "unsatisfied")
RANKING_COLUMNS = ("key", "rank", "composite", *RATES, "valid", "received", "breaches",
                   "sent_back")
PROGRESS = ("collected", "resolved", "in_progress", "closed_otherwise")


def rate(value: float | None) -> str:
    """A rate as the JSON has it (four decimals), as a percentage."""
    return "–" if value is None else f"{value * 100:.2f}%"


def three_rates(page: Page) -> Iterator[Section]:
    rates = page.report.figures.three_rates
    if rates is None:
        return
    shown = {name: rate(getattr(rates, name)) for name in RATES}
    shown["composite"] = number(rates.composite)
    tiles = "".join(f"<div class=tile data-figure=\"three_rates.{key}\"><b>{escape(value)}</b>"
                    f"<span>{escape(page.text('rates.' + key))}</span></div>"
                    for key, value in shown.items())
    head = "".join(f"<th>{escape(page.text('rates.' + name))}</th>" for name in COUNTS)
    cells = "".join(f"<td data-figure=\"three_rates.{name}\">{_count(rates, name)}</td>"
                    for name in COUNTS)
    table = (f"<div class=scroll><table class=visits><thead><tr>{head}</tr></thead>"
             f"<tbody><tr>{cells}</tr></tbody></table></div>")
    yield card(page, "three_rates", html=f"<div class=tiles>{tiles}</div>{table}",
               subtitle=_rules(page), wide=True)


def _count(rates: ThreeRates, name: str) -> int:
    return int(rates.as_dict()[name])


def _rules(page: Page) -> str:
    """The assessment rules the rates were computed by: f, the weights, the month."""
    assessment = page.report.assessment
    if assessment is None:
        return ""
    weights = assessment.rules.weights
    month = assessment.month
    period = page.text("rates.all_months") if month is None else page.text(
        "rates.month", start=f"{month[0]:%Y-%m-%d %H:%M}", end=f"{month[1]:%Y-%m-%d %H:%M}")
    return page.text("subtitle.three_rates", f=f"{assessment.rules.basic_weight:g}",
                     response=f"{weights['response']:g}",
                     resolution=f"{weights['resolution']:g}",
                     satisfaction=f"{weights['satisfaction']:g}", month=period)


def ranking(page: Page) -> Iterator[Section]:
    report = page.report
    accounts = [] if report.assessment is None else report.assessment.ranking
    if not accounts or report.by is None:
        return
    by = page.value("grouping", report.by)
    head = "".join(f"<th>{escape(page.text('ranking.' + c, by=by))}</th>"
                   for c in RANKING_COLUMNS)
    rows = []
    for account in accounts:
        rates = account.three_rates
        cells = {"rank": "–" if account.rank is None else str(account.rank),
                 "composite": number(rates.composite),
                 **{name: rate(getattr(rates, name)) for name in RATES},
                 "valid": str(rates.valid), "received": str(account.received),
                 "breaches": str(account.breaches), "sent_back": str(account.sent_back)}
        tds = "".join(f"<td data-figure={name}>{escape(value)}</td>"
                      for name, value in cells.items())
        rows.append(f"<tr data-key=\"{escape(account.key)}\"><th>"
                    f"{escape(page.value(report.by, account.key))}</th>{tds}</tr>")
    html = (f"<div class=scroll><table class=ranking><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")
    title = page.text("section.ranking", by=by)
    values = [{"name": page.value(report.by, a.key), "composite": a.three_rates.composite}
              for a in accounts if a.three_rates.composite is not None]
    spec = bars(values, ("name", by), ("composite", page.text("rates.composite")), title,
                horizontal=True) if values else None
    yield Section("ranking", title, page.text("note.ranking", by=by), chart=spec, html=html,
                  wide=True)


def progress_by_channel(page: Page) -> Iterator[Section]:
    yield from _progress(page, "channel")


def progress_by_kind(page: Page) -> Iterator[Section]:
    yield from _progress(page, "kind")


def _progress(page: Page, kind: str) -> Iterator[Section]:
    """Collected, resolved, in progress: as an office announces them, per channel or kind."""
    report: Report = page.report
    if report.assessment is None:
        return
    table = (report.assessment.progress_by_channel if kind == "channel"
             else report.assessment.progress_by_kind)
    if not table:
        return
    head = "".join(f"<th>{escape(page.text('progress.' + c))}</th>" for c in PROGRESS)
    rows = "".join(
        f"<tr data-key=\"{escape(key)}\"><th>{escape(page.value(kind, key))}</th>"
        + "".join(f"<td data-figure={c}>{counts[c]}</td>" for c in PROGRESS)
        + f"<td class=said>{escape(page.text('progress.said', **counts))}</td></tr>"
        for key, counts in table.items())
    html = (f"<div class=scroll><table class=progress><thead><tr>"
            f"<th>{escape(page.text(kind))}</th>{head}<th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")
    yield card(page, f"progress_by_{kind}", html=html)
