"""The course's calendar and history: the assignment's dates and policies, per-student extensions, report versions
(a regrade adds one), each report's public score, why a regrade was queued, and token prefixes and revocation.

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _scores(report_json: str) -> tuple[float | None, float | None, float | None]:
    """(max score, public score, public max score) of a stored report; Nones if it cannot be read."""
    try:
        r = json.loads(report_json)
        cases = [c for p in r["problems"] for c in p["cases"] if not c["hidden"]]
        return r["max_score"], sum(c["points"] for c in cases), sum(c["max_points"] for c in cases)
    except (ValueError, KeyError, TypeError):
        return None, None, None


def upgrade() -> None:
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("opens_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("late_due_at", sa.DateTime(), nullable=True),
        sa.Column("late_penalty", sa.Float(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("release", sa.String(16), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("score_policy", sa.String(16), nullable=False),
        sa.Column("max_submissions", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("student_id", sa.String(128), nullable=False, unique=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("late_due_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("tokens") as b:
        b.add_column(sa.Column("prefix", sa.String(16), nullable=True))
        b.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("jobs") as b:
        b.add_column(sa.Column("reason", sa.String(64), nullable=True))

    # Reports: one row per version instead of one per submission. A new table and a copy, the same on SQLite
    # and PostgreSQL (the old unique constraint's name differs by how the database was made).
    op.create_table(
        "reports_v",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.Column("public_score", sa.Float(), nullable=True),
        sa.Column("public_max_score", sa.Float(), nullable=True),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("submission_id", "version", name="uq_reports_submission_version"),
    )
    conn = op.get_bind()
    old = sa.table(
        "reports",
        sa.column("id"),
        sa.column("submission_id"),
        sa.column("job_id"),
        sa.column("score"),
        sa.column("report_json"),
        sa.column("created_at"),
    )
    new = sa.table(
        "reports_v",
        *(sa.column(c) for c in ("id", "submission_id", "job_id", "version", "reason")),
        *(sa.column(c) for c in ("score", "max_score", "public_score", "public_max_score")),
        sa.column("report_json"),
        sa.column("created_at"),
    )
    for row in conn.execute(sa.select(old).order_by(old.c.id)):
        max_score, public, public_max = _scores(row.report_json)
        conn.execute(
            new.insert().values(
                id=row.id,
                submission_id=row.submission_id,
                job_id=row.job_id,
                version=1,
                reason="submitted",
                score=row.score,
                max_score=max_score,
                public_score=public,
                public_max_score=public_max,
                report_json=row.report_json,
                created_at=row.created_at,
            )
        )
    op.drop_table("reports")
    op.rename_table("reports_v", "reports")
    if conn.dialect.name == "postgresql":  # the copy kept the ids: the next one follows them
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('reports', 'id'), COALESCE((SELECT MAX(id) FROM reports), 0) + 1,"
                " false)"
            )
        )
    op.create_index("ix_reports_submission_id", "reports", ["submission_id"])


def downgrade() -> None:
    raise NotImplementedError("0003 keeps report versions that 0002 cannot hold; restore a backup instead")
