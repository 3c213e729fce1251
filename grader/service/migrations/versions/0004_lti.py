"""LMS integration (LTI 1.3): registered platforms, LTI users matched to token rows, roster contacts, resource links
with their line items, passback state per student and link, and the login flow's short-lived state.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

URL = 1024


def upgrade() -> None:
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("auth_login_url", sa.String(URL), nullable=False),
        sa.Column("auth_token_url", sa.String(URL), nullable=False),
        sa.Column("keyset_url", sa.String(URL), nullable=False),
        sa.Column("auth_audience", sa.String(URL), nullable=True),
        sa.Column("frame_origins", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("issuer", "client_id", "deployment_id", name="uq_lti_platforms"),
    )
    op.create_table(
        "lti_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform_id", sa.Integer(), sa.ForeignKey("lti_platforms.id"), nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("tokens.id"), nullable=False),
        sa.Column("student_id", sa.String(128), nullable=True),
        sa.Column("matched_by", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("sourcedid", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_launch_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("platform_id", "sub", name="uq_lti_users_platform_sub"),
    )
    op.create_table(
        "lti_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("student_id", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("sourcedid", sa.String(255), nullable=True),
        sa.UniqueConstraint("student_id", name="uq_lti_contacts_student"),
    )
    op.create_index("ix_lti_contacts_email", "lti_contacts", ["email"])
    op.create_index("ix_lti_contacts_sourcedid", "lti_contacts", ["sourcedid"])
    op.create_table(
        "lti_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform_id", sa.Integer(), sa.ForeignKey("lti_platforms.id"), nullable=False),
        sa.Column("resource_link_id", sa.String(255), nullable=False),
        sa.Column("context_id", sa.String(255), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("ags_scopes", sa.Text(), nullable=False),
        sa.Column("lineitems_url", sa.String(URL), nullable=True),
        sa.Column("lineitem_url", sa.String(URL), nullable=True),
        sa.Column("lineitem_claimed_until", sa.DateTime(), nullable=True),
        sa.Column("nrps_url", sa.String(URL), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_launch_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("platform_id", "resource_link_id", name="uq_lti_links_platform_link"),
    )
    op.create_table(
        "lti_passback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("link_id", sa.Integer(), sa.ForeignKey("lti_links.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("lti_users.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent_submission_id", sa.Integer(), nullable=True),
        sa.Column("sent_score", sa.Float(), nullable=True),
        sa.Column("sent_max_score", sa.Float(), nullable=True),
        sa.Column("sent_timestamp", sa.DateTime(), nullable=True),
        sa.Column("sent_progress", sa.String(16), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_answer", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("link_id", "user_id", name="uq_lti_passback_link_user"),
    )
    op.create_table(
        "lti_launch_state",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_lti_launch_state_expires", "lti_launch_state", ["expires_at"])


def downgrade() -> None:
    for table in ("lti_launch_state", "lti_passback", "lti_links", "lti_contacts", "lti_users", "lti_platforms"):
        op.drop_table(table)
