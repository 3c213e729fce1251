"""Uploads: one row per upload, accepted or refused, counted before it is checked (the per-student rate limit).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("student_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_uploads_student_at", "uploads", ["student_id", "at"])


def downgrade() -> None:
    op.drop_table("uploads")
