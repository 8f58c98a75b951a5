"""The read-model tables: SQL tables built from the events, disposable and rebuildable."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Times are stored as naive UTC: the same on SQLite and PostgreSQL.
case_summary = Table(
    "case_summary",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("workflow_version", Integer, nullable=False),
    Column("state", String(40), nullable=False),
    Column("stage", String(20), nullable=False),
    # open (stage collect, assess, dispatch or follow_up) or closed: what lists are read by.
    Column("status", String(10), nullable=False),
    Column("outcome", String(20)),
    Column("grade", String(4)),
    Column("title", String(200)),  # as the case was opened with it
    Column("category", String(200)),
    Column("channel", String(40)),
    Column("unit", String(200)),
    Column("community", String(200)),
    Column("block", String(200)),
    Column("level", String(20)),
    Column("left_community", Boolean, nullable=False, default=False),
    Column("opened_at", DateTime, nullable=False),
    Column("dispatched_at", DateTime),
    # Since when its unit holds it (None while nobody does, or once resolved): held time.
    Column("unit_since", DateTime),
    Column("resolved_at", DateTime),
    Column("closed_at", DateTime),
    Column("deadline", DateTime),
    Column("resolve_from", DateTime),  # the clocks, as their events recorded them
    Column("resolve_limit", String(20)),
    Column("paused_since", DateTime),  # the resolution clock stands still (casework.clocks)
    Column("contact_from", DateTime),
    Column("contact_limit", String(20)),
    Column("contact_deadline", DateTime),
    Column("contacted_at", DateTime),
    Column("breached", Boolean),
    Column("missed_deadline", Boolean, nullable=False, default=False),
    Column("resolved_level", String(20)),
    Column("escalations", Integer, nullable=False, default=0),
    # Each escalation's step from level to level, with how often the case took it, between
    # commas: ",community>subdistrict:1,". Steps go up the tree, so the list stays short.
    Column("escalation_steps", String(400), nullable=False, default=","),
    Column("reopens", Integer, nullable=False, default=0),
    Column("ever_closed", Boolean, nullable=False, default=False),
    Column("satisfaction", Integer),
    Column("volunteers", Integer, nullable=False, default=0),
    # The milestones its workflow's report counts (triggers fired on it), between commas:
    # ",open,claim,".
    Column("milestones", String(400), nullable=False),
    Column("parent", String(36)),
    # What a clerk looks a case up by, beside its title (above): the place it was opened
    # with, the unit where the problem is (location) and its grid (what "near" means for
    # duplicates), where the case belongs (its unit, else its location: who may reach it)
    # and whom it is assigned to.
    Column("place", Text),
    Column("location", String(200)),
    Column("grid", String(200)),
    Column("jurisdiction", String(200)),
    Column("assignee", String(200)),
    Column("events", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("head", String(64), nullable=False),
)

# Columns of a few values each (kind, stage, grade, channel) have none: an index on them
# selects a third of the cases, and SQLite, without statistics, would prefer it to a better one.
for _column in ("state", "unit", "community", "category", "location", "grid", "jurisdiction",
                "place", "assignee", "closed_at"):
    Index(f"ix_case_summary_{_column}", case_summary.c[_column])
# The orders a list is read in (projections.case_list): open or closed, the sort column, then
# the id, so that the first page and every next page (keyset) are ranges of one index.
# The orders of open cases (by deadline, and by age for those without one) also hold what a
# list is most often narrowed by: where a case is (its unit, who may reach it) and, for the
# queue mine, its workflow and state. Reading along them skips the cases of other units
# without reading their rows, so that even a list that finds nothing reads only the index.
_c = case_summary.c
_WHERE = (_c.jurisdiction, _c.unit, _c.kind, _c.workflow_version, _c.state)
Index("ix_case_summary_status_deadline", _c.status, _c.deadline, _c.id, *_WHERE)
Index("ix_case_summary_status_opened_at", _c.status, _c.opened_at, _c.id, _c.deadline, *_WHERE)
Index("ix_case_summary_status_updated_at", _c.status, _c.updated_at, _c.id)

# Each unit's account (projections.unit_ledger): what each event meant for the unit that held
# the case when it happened, one row per event and unit concerned. The accounts and the three
# rates are sums over it (projections.three_rates).
unit_ledger = Table(
    "unit_ledger",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("unit", String(200), primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("community", String(200)),
    Column("grid", String(200)),
    # The case's, as they were at the event: so that sums by kind or channel, and the
    # categories the rates leave out, need no join with case_summary.
    Column("kind", String(40), nullable=False),
    Column("channel", String(40)),
    Column("category", String(200)),
    Column("held_hours", Float, nullable=False, default=0.0),
    *(Column(name, Integer, nullable=False, default=0) for name in (
        "received", "from_below", "escalated_up", "contacted_in_time", "resolved_in_time",
        "breaches", "sent_back", "visits", "valid_visits", "contacted", "solved", "satisfied",
        "basically_satisfied", "unsatisfied")),
)
# Sums read the whole ledger (or the cases a report selects, by its key): only the month's
# range has an index; one per grouping column would slow every fold for no report's gain.
Index("ix_unit_ledger_at", unit_ledger.c.at)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("notification_id", Integer, nullable=False),
)
