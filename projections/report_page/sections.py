"""The sections of the report page, each a function from the report to its cards.

A section function takes the ``Page`` (the report, the words of its language, where numbers
link to) and yields the ``Section`` cards it has figures for; when the report has nothing
for it (no case has a grade, no workflow declares a section, no ``--by``), it yields none, and
the page leaves it out. ``SECTIONS`` lists them in the order the page shows them: to add one,
write its function here (or in a module of its own), add it to ``SECTIONS``, and give its
title and note in ``labels/en.toml`` and ``labels/zh.toml`` (``text.section.KEY``,
``text.note.KEY``).
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape

from ..report import OVERALL, Deadlines, Figures
from .assessment import progress_by_channel, progress_by_kind, ranking, three_rates
from .cases import CaseQuery
from .charts import VERDICT_COLOURS, bars, chart, field
from .section import Page, Section, SectionFunction, card, number, percent

VERDICTS = ("met", "breached", "open_overdue")
HEAT_ROWS = 15
"""The categories of the heat table: those with the most cases."""
HEAT_COLUMNS = 12
GROUPS_SHOWN = 50


def overview(page: Page) -> Iterator[Section]:
    f = page.report.figures
    overall = f.sla.get(OVERALL, Deadlines())
    tiles = {"total": str(f.total), "open": str(f.open), "closed": str(f.closed),
             "resolved": str(f.resolved), "resolution_rate": percent(f.resolution_rate),
             "local_resolution_rate": percent(f.local_resolution_rate),
             "compliance": percent(overall.compliance), "reopen_rate": percent(f.reopen_rate),
             "escalation_rate": percent(f.escalations.rate),
             "satisfaction": number(f.satisfaction.mean)}
    html = "".join(f"<div class=tile data-figure={key}><b>{escape(value)}</b>"
                   f"<span>{escape(page.text('tile.' + key))}</span></div>"
                   for key, value in tiles.items())
    yield card(page, "overview", html=f"<div class=tiles>{html}</div>", wide=True)


def intake_by_day(page: Page) -> Iterator[Section]:
    days = page.report.figures.intake_by_day
    if not days:
        return
    values = [{"day": day, "channel": page.value("channel", channel), "count": count}
              for day, counts in days.items() for channel, count in counts.items()]
    day = field("day", "temporal", page.text("day"), timeUnit="utcyearmonthdate")
    encoding = {
        "x": {**day, "axis": {"format": "%m-%d", "labelAngle": 0}},
        "y": field("count", "quantitative", page.text("count"), stack=True),
        "color": field("channel", "nominal", page.text("channel"),
                       scale={"scheme": "tableau20"}),
        "tooltip": [{**day, "format": "%Y-%m-%d"},
                    field("channel", "nominal", page.text("channel")),
                    field("count", "quantitative", page.text("count"))],
    }
    spec = chart(values, {"type": "bar"}, encoding, page.text("section.intake_by_day"))
    yield card(page, "intake_by_day", chart=spec, wide=True)


def by_stage(page: Page) -> Iterator[Section]:
    f = page.report.figures
    values = [{"stage": page.value("stage", s), "count": n} for s, n in f.by_stage.items()]
    spec = bars(values, ("stage", page.text("stage")), ("count", page.text("count")),
                page.text("section.by_stage"))
    yield card(page, "by_stage", chart=spec)


def deadlines(page: Page) -> Iterator[Section]:
    """Deadlines per grade, one card per clock: resolution (``sla``) and contact."""
    figures = page.report.figures
    for key, clock in (("sla", figures.sla), ("contact", figures.contact)):
        per_grade = {grade: d for grade, d in clock.items() if grade != OVERALL}
        if per_grade:
            yield _deadlines_card(page, key, per_grade, clock.get(OVERALL, Deadlines()))


def _deadlines_card(page: Page, key: str, per_grade: dict[str, Deadlines],
                    overall: Deadlines) -> Section:
    names = [page.value("verdict", v) for v in VERDICTS]
    values = [{"grade": page.value("grade", grade), "verdict": name,
               "count": getattr(d, verdict), "compliance": percent(d.compliance)}
              for grade, d in per_grade.items()
              for verdict, name in zip(VERDICTS, names, strict=True)]
    encoding = {
        "y": field("grade", "nominal", page.text("grade"), sort=None),
        "x": field("count", "quantitative", page.text("count"), stack=True),
        "color": field("verdict", "nominal", page.text("verdict"),
                       scale={"domain": names, "range": VERDICT_COLOURS}, sort=names),
        "order": {"field": "order", "type": "quantitative"},
        "tooltip": [field("grade", "nominal", page.text("grade")),
                    field("verdict", "nominal", page.text("verdict")),
                    field("count", "quantitative", page.text("count")),
                    field("compliance", "nominal", page.text("tile.compliance"))],
    }
    for index, value in enumerate(values):
        value["order"] = index % len(VERDICTS)
    spec = chart(values, {"type": "bar"}, encoding, page.text(f"section.{key}"),
                 height=max(120, 40 * len(per_grade)))
    return card(page, key, chart=spec,
                subtitle=page.text(f"subtitle.{key}", compliance=percent(overall.compliance)))


def time_to_close(page: Page) -> Iterator[Section]:
    times = page.report.figures.time_to_close_hours
    if not times.count:
        return
    values = [{"hours": f"{b.lower:g}–{b.upper:g}" if b.upper is not None
               else f"≥{b.lower:g}", "count": b.count} for b in times.histogram]
    spec = bars(values, ("hours", page.text("hours")), ("count", page.text("count")),
                page.text("section.time_to_close_hours"))
    yield card(page, "time_to_close_hours", chart=spec,
               subtitle=page.text("subtitle.time_to_close_hours", median=number(times.median),
                                  p90=number(times.p90), count=times.count))


def satisfaction(page: Page) -> Iterator[Section]:
    rated = page.report.figures.satisfaction
    if not rated.count:
        return
    values = [{"score": f"{score} ★", "count": n} for score, n in rated.distribution.items()]
    spec = bars(values, ("score", page.text("score")), ("count", page.text("count")),
                page.text("section.satisfaction"))
    yield card(page, "satisfaction", chart=spec,
               subtitle=page.text("subtitle.satisfaction", mean=number(rated.mean),
                                  count=rated.count))


def escalations(page: Page) -> Iterator[Section]:
    e = page.report.figures.escalations
    if not e.steps:
        return
    values = [{"step": f"{page.value('level', s.from_level)} → {page.value('level', s.to_level)}",
               "count": s.count} for s in e.steps]
    spec = bars(values, ("step", page.text("step")), ("count", page.text("escalation_count")),
                page.text("section.escalations"), horizontal=True, height=120)
    yield card(page, "escalations", chart=spec,
               subtitle=page.text("subtitle.escalations", total=e.total, cases=e.cases,
                                  rate=percent(e.rate)))


def hot_spots(page: Page) -> Iterator[Section]:
    table = page.report.figures.by_category_and_community
    if not table:
        return
    rows = sorted(table, key=lambda category: (-sum(table[category].values()), category))
    by_community: dict[str, int] = {}
    for counts in table.values():
        for community, count in counts.items():
            by_community[community] = by_community.get(community, 0) + count
    columns = sorted(by_community, key=lambda c: (-by_community[c], c))[:HEAT_COLUMNS]
    most = max(count for counts in table.values() for count in counts.values())
    key = "by_category_and_community"
    head = "".join(f"<th>{escape(page.value('community', c))}</th>" for c in columns)
    body = []
    for category in rows[:HEAT_ROWS]:
        label = page.value("category", category)
        cells = []
        for community in columns:
            count = table[category].get(community, 0)
            caption = f"{label} · {page.value('community', community)}"
            query = CaseQuery((("category", category), ("community", community)))
            shade = f"rgba(214,40,40,{0.06 + 0.74 * count / most:.2f})" if count else "none"
            cells.append(f"<td style=\"background:{shade}\" data-category=\"{escape(category)}\""
                         f" data-community=\"{escape(community)}\">"
                         f"{page.link(count, query, caption, key)}</td>")
        body.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}</tr>")
    html = (f"<div class=scroll><table class=heat><thead><tr><th>"
            f"{escape(page.text('category'))}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")
    yield card(page, key, html=html, wide=True)


def workflow_sections(page: Page) -> Iterator[Section]:
    """What each workflow's ``[report]`` section counts: values of a field, and milestones."""
    for name, section in page.report.figures.sections.items():
        title = page.value("section", name)
        milestones = [{"figure": page.value("figure", figure), "count": count}
                      for figure, count in section.items() if isinstance(count, int)]
        for figure, counts in section.items():
            if isinstance(counts, dict) and counts:
                values = [{"value": page.labels.any(value), "count": count} for value, count
                          in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
                heading = f"{title}: {page.value('figure', figure)}"
                yield Section(f"{name}.{figure}", heading, page.text("note.section"),
                              chart=bars(values, ("value", page.value("figure", figure)),
                                         ("count", page.text("count")), heading,
                                         horizontal=True))
        if any(m["count"] for m in milestones):
            yield Section(f"{name}.milestones", title, page.text("note.section"),
                          chart=bars(milestones, ("figure", page.text("milestone")),
                                     ("count", page.text("count")), title))


def groups(page: Page) -> Iterator[Section]:
    report = page.report
    if report.by is None or not report.groups:
        return
    by = page.value("grouping", report.by)
    ranked = sorted(report.groups, key=lambda g: (-g.figures.total, g.key))[:GROUPS_SHOWN]
    columns = ["key", "total", "open", "open_overdue", "resolved", "compliance", "median",
               "satisfaction"]
    head = "".join(f"<th>{escape(page.text('column.' + c, by=by))}</th>" for c in columns)
    rows = "".join(_group_row(page, g.key, g.figures) for g in ranked)
    html = (f"<div class=scroll><table class=groups><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")
    yield Section("groups", page.text("section.groups", by=by), page.text("note.groups", by=by),
                  html=html, wide=True)


def _group_row(page: Page, key: str, f: Figures) -> str:
    by = page.report.by
    assert by is not None
    name = page.value(by, key)
    overall = f.sla.get(OVERALL, Deadlines())
    counts = {"total": f.total, "open": f.open, "open_overdue": overall.open_overdue,
              "resolved": f.resolved}
    linked = []
    for figure, count in counts.items():
        caption = f"{name} · {page.text('column.' + figure, by=by)}"
        link = page.link(count, CaseQuery(((by, key),), figure), caption, "groups")
        linked.append(f"<td data-figure={figure}>{link}</td>")
    return (f"<tr data-key=\"{escape(key)}\"><th>{escape(name)}</th>{''.join(linked)}"
            f"<td>{percent(overall.compliance)}</td>"
            f"<td>{number(f.time_to_close_hours.median)}</td>"
            f"<td>{number(f.satisfaction.mean)}</td></tr>")


SECTIONS: list[SectionFunction] = [
    overview, three_rates, intake_by_day, by_stage, deadlines, time_to_close, satisfaction,
    escalations, hot_spots, workflow_sections, groups, ranking, progress_by_channel,
    progress_by_kind,
]
"""The page's sections, in order."""
