"""The tables of ``watch`` (SQLAlchemy Core); the migrations in ``migrations/`` create them.

Times are seconds since the epoch (double precision): the same in SQLite and
PostgreSQL, and what the checker measures in.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["check_results", "events", "metadata", "names", "outbox"]

metadata = sa.MetaData()

#: One row per watched name: its schedule, its claim and what the next check compares with.
names = sa.Table(
    "names",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("next_check_at", sa.Float, nullable=False),
    # A claim: the process checking the name now, until its lease runs out.
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("lease_until", sa.Float),
    sa.Column("failures", sa.Integer, nullable=False, default=0),  # consecutive
    sa.Column("down", sa.Boolean, nullable=False, default=False),  # a confirmed failure
    sa.Column("down_since", sa.Float),
    sa.Column("reminded_at", sa.Float),
    sa.Column("last_checked_at", sa.Float),
    # What the last checks saw (route, certificates, keys, versions, warnings given).
    sa.Column("baseline", sa.JSON, nullable=False, default=dict),
    sa.Index("ix_names_due", "active", "next_check_at"),
)

#: Every check result, kept for --keep-days.
check_results = sa.Table(
    "check_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_name", sa.String(255), nullable=False),
    sa.Column("checked_at", sa.Float, nullable=False),
    sa.Column("federation_ok", sa.Boolean, nullable=False),
    sa.Column("route", sa.String(32)),
    sa.Column("m_server", sa.String(255)),
    sa.Column("endpoints", sa.JSON, nullable=False),  # ["ip:port", ...]
    sa.Column("problems", sa.JSON, nullable=False),  # [code, ...]
    sa.Column("cert_expires_at", sa.Float),
    sa.Column("key_expires_at", sa.Float),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("checked_by", sa.String(64)),  # the process (--worker-id) that checked
    sa.Index("ix_check_results_name_time", "server_name", "checked_at"),
    sa.Index("ix_check_results_time", "checked_at"),
)

#: Every event detected, once.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("server_name", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Index("ix_events_name_time", "server_name", "at"),
)

#: One notification per event and notifier, until delivered (at least once).
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE")),
    sa.Column("target", sa.String(2048), nullable=False),  # e.g. "webhook https://..."
    sa.Column("body", sa.Text, nullable=False),  # the exact bytes sent (and signed), as UTF-8
    sa.Column("state", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("lease_until", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("delivered_at", sa.Float),
    sa.Index("ix_outbox_due", "state", "next_attempt_at"),
)
