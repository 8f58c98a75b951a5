"""The read-model tables: SQL tables built from the events, disposable and rebuildable."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
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
    Column("outcome", String(20)),
    Column("grade", String(4)),
    Column("category", String(200)),
    Column("channel", String(40)),
    Column("unit", String(200)),
    Column("community", String(200)),
    Column("block", String(200)),
    Column("level", String(20)),
    Column("left_community", Boolean, nullable=False, default=False),
    Column("opened_at", DateTime, nullable=False),
    Column("dispatched_at", DateTime),
    Column("resolved_at", DateTime),
    Column("closed_at", DateTime),
    Column("deadline", DateTime),
    Column("breached", Boolean),
    Column("missed_deadline", Boolean, nullable=False, default=False),
    Column("resolved_level", String(20)),
    Column("escalations", Integer, nullable=False, default=0),
    Column("reopens", Integer, nullable=False, default=0),
    Column("ever_closed", Boolean, nullable=False, default=False),
    Column("satisfaction", Integer),
    Column("volunteers", Integer, nullable=False, default=0),
    # The milestones its workflow's report counts (triggers fired on it), between commas:
    # ",open,claim,".
    Column("milestones", String(400), nullable=False),
    Column("parent", String(36)),
    # What a clerk looks a case up by: the title and place it was opened with, where it
    # belongs (its unit, else its location: who may reach it) and whom it is assigned to.
    Column("title", Text),
    Column("place", Text),
    Column("jurisdiction", String(200)),
    Column("assignee", String(200)),
    Column("events", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("head", String(64), nullable=False),
)

for _column in ("kind", "stage", "state", "unit", "community", "grade", "category", "channel",
                "jurisdiction", "place", "assignee", "closed_at"):
    Index(f"ix_case_summary_{_column}", case_summary.c[_column])
# The orders a list is read in (projections.case_list): the sort column, then the id, so that
# the first page and every next page (keyset) are ranges of one index.
for _column in ("deadline", "opened_at", "updated_at"):
    Index(f"ix_case_summary_{_column}_id", case_summary.c[_column], case_summary.c.id)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("notification_id", Integer, nullable=False),
)
