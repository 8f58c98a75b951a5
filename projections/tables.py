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
    Column("title", String(200)),
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
    Column("events", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("head", String(64), nullable=False),
)

for _column in ("kind", "stage", "state", "unit", "community", "grade", "category", "channel",
                "opened_at"):
    Index(f"ix_case_summary_{_column}", case_summary.c[_column])

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("notification_id", Integer, nullable=False),
)
