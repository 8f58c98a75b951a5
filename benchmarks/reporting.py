"""The report over a million cases, all its figures, against the same headline figures as
plain SQL ``GROUP BY``s on the read model.

The read model is the list's fixture (``listing.listed_cases``: a simulated month's rows
copied with new ids, their times spread over a year). Only ``case_summary`` is copied: the
unit ledger, which the three rates, the ranking and nothing else read, stays the month's, so
those two SQL sums are a small part of the figure here.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

from casework import Casework
from projections.read_model import ReadModel
from projections.report import OVERALL, Report, report

from .fixtures import Fixtures, url_of
from .harness import Result, Scale, alternate, compare, timed
from .listing import NOW, listed_cases

Log = Callable[[str], None]
Statements = dict[str, str]

OPEN = "status = 'open'"
HOURS = "(julianday(closed_at) - julianday(opened_at)) * 24"
OVERDUE = (f"{OPEN} AND resolved_at IS NULL AND (missed_deadline = 1 OR "
           "(paused_since IS NULL AND deadline < :now))")
CONTACT_OVERDUE = f"{OPEN} AND contacted_at IS NULL AND contact_deadline < :now"
ENDED = "coalesce(resolved_at, closed_at)"
BASELINE: Statements = {
    "by_stage": "SELECT stage, count(*) FROM case_summary GROUP BY stage",
    "by_state": "SELECT state, count(*) FROM case_summary GROUP BY state",
    "by_kind": "SELECT kind, count(*) FROM case_summary GROUP BY kind",
    "by_channel": "SELECT channel, count(*) FROM case_summary WHERE channel IS NOT NULL "
                  "AND channel != '' GROUP BY channel",
    "totals": "SELECT count(*), sum(outcome = 'resolved'), "
              "sum(outcome = 'resolved' AND NOT left_community), count(satisfaction), "
              "avg(satisfaction), sum(ever_closed), sum(ever_closed AND reopens > 0), "
              "sum(escalations > 0), sum(escalations) FROM case_summary",
    "sla": "SELECT grade, sum(resolved_at IS NOT NULL AND NOT breached), "
           "sum(resolved_at IS NOT NULL AND breached), "
           f"sum({OVERDUE}) FROM case_summary "
           "WHERE deadline IS NOT NULL AND grade IS NOT NULL AND grade != '' GROUP BY grade",
    "contact": "SELECT grade, sum(contacted_at IS NOT NULL AND contacted_at <= contact_deadline), "
               "sum(contacted_at > contact_deadline OR (contacted_at IS NULL AND "
               f"{ENDED} > contact_deadline)), "
               f"sum({CONTACT_OVERDUE}) FROM case_summary "
               "WHERE contact_deadline IS NOT NULL AND grade IS NOT NULL AND grade != '' "
               "GROUP BY grade",
    "close_histogram": f"SELECT CASE WHEN {HOURS} < 2 THEN 0 WHEN {HOURS} < 4 THEN 2 "
                       f"WHEN {HOURS} < 8 THEN 4 WHEN {HOURS} < 24 THEN 8 "
                       f"WHEN {HOURS} < 48 THEN 24 WHEN {HOURS} < 72 THEN 48 "
                       f"WHEN {HOURS} < 168 THEN 72 WHEN {HOURS} < 336 THEN 168 "
                       f"WHEN {HOURS} < 720 THEN 336 ELSE 720 END AS bin, count(*) "
                       "FROM case_summary WHERE closed_at IS NOT NULL GROUP BY bin",
    "close_median": f"SELECT {HOURS} AS hours FROM case_summary WHERE closed_at IS NOT NULL "
                    "ORDER BY hours LIMIT 1 OFFSET (SELECT count(closed_at) / 2 "
                    "FROM case_summary)",
    "satisfaction": "SELECT satisfaction, count(*) FROM case_summary "
                    "WHERE satisfaction IS NOT NULL GROUP BY satisfaction",
    "hot_spots": "SELECT category, community, count(*) FROM case_summary "
                 "WHERE category != '' AND community != '' GROUP BY category, community",
    "intake": "SELECT substr(opened_at, 1, 10), coalesce(nullif(channel, ''), '(none)'), "
              "count(*) FROM case_summary GROUP BY 1, 2",
    "progress": "SELECT kind, channel, count(*), sum(outcome = 'resolved'), sum(" + OPEN + ") "
                "FROM case_summary GROUP BY kind, channel",
}
"""The report's figures as one would write them by hand: one ``GROUP BY`` (or sum) each,
the result rows as sqlite3 gives them. Left out: the escalations' steps and the workflows'
own sections (text columns to split), and the three rates (the ledger's, the same SQL in
both). Days of intake are UTC days here, the office's in the report."""


def report_over_cases(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    path = listed_cases(fixtures, scale.report_cases)
    app = Casework(url_of(path))
    read_model = ReadModel(app)
    db = sqlite3.connect(path)  # open, as the read model's engine keeps its connections
    now = {"now": str(NOW.replace(tzinfo=None))}

    def run_report() -> Any:
        return timed(lambda: report(read_model, now=NOW))

    def run_sql() -> Any:
        return timed(lambda: {name: db.execute(sql, now).fetchall()
                              for name, sql in BASELINE.items()})

    _check_same(report(read_model, now=NOW), {
        name: db.execute(sql, now).fetchall() for name, sql in BASELINE.items()})
    ours, theirs = alternate(scale.big_reps, run_report, run_sql)
    db.close()
    read_model.close()
    app.close()
    result = compare(f"report over {scale.report_cases:,} cases, all its figures",
                     "plain SQL GROUP BYs", ours, theirs, "s", "time", "≤ 1.5×",
                     lambda ratio: ratio <= 1.5,
                     f"{len(BASELINE)} GROUP BYs on case_summary (no escalation steps, "
                     "sections or three rates; intake by UTC day)")
    log(f"report: {result.value:.3f} s vs {result.baseline_value:.3f} s")
    return result


def _check_same(shown: Report, sql: dict[str, list[tuple[Any, ...]]]) -> None:
    """The headline figures agree: what makes the GROUP BYs a baseline of the same work."""
    figures = shown.figures
    by_stage = {stage: count for stage, count in figures.by_stage.items() if count}
    assert by_stage == dict(sql["by_stage"]), "counts by stage differ"
    assert figures.by_kind == dict(sql["by_kind"]), "counts by kind differ"
    assert figures.by_channel == dict(sql["by_channel"]), "counts by channel differ"
    for key, deadlines in (("sla", figures.sla), ("contact", figures.contact)):
        grades = {grade: (d.met, d.breached, d.open_overdue)
                  for grade, d in deadlines.items() if grade != OVERALL}
        assert grades == {grade: tuple(counts) for grade, *counts in sql[key]}, \
            f"{key} per grade differs"
    assert figures.total == sql["totals"][0][0], "totals differ"
    histogram = Counter(dict(sql["close_histogram"]))
    assert [b.count for b in figures.time_to_close_hours.histogram] == [
        histogram[b.lower] for b in figures.time_to_close_hours.histogram], \
        "time to close differs"

