"""The first schema: names, check results, events and the notification outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "names",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("next_check_at", sa.Float, nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("lease_until", sa.Float),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("down", sa.Boolean, nullable=False),
        sa.Column("down_since", sa.Float),
        sa.Column("reminded_at", sa.Float),
        sa.Column("last_checked_at", sa.Float),
        sa.Column("baseline", sa.JSON, nullable=False),
    )
    op.create_index("ix_names_due", "names", ["active", "next_check_at"])
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("server_name", sa.String(255), nullable=False),
        sa.Column("checked_at", sa.Float, nullable=False),
        sa.Column("federation_ok", sa.Boolean, nullable=False),
        sa.Column("route", sa.String(32)),
        sa.Column("m_server", sa.String(255)),
        sa.Column("endpoints", sa.JSON, nullable=False),
        sa.Column("problems", sa.JSON, nullable=False),
        sa.Column("cert_expires_at", sa.Float),
        sa.Column("key_expires_at", sa.Float),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("checked_by", sa.String(64)),
    )
    op.create_index("ix_check_results_name_time", "check_results", ["server_name", "checked_at"])
    op.create_index("ix_check_results_time", "check_results", ["checked_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("server_name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_index("ix_events_name_time", "events", ["server_name", "at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE")),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("lease_until", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("events")
    op.drop_table("check_results")
    op.drop_table("names")
