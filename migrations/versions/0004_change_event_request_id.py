"""Change events remember the request that made them (audits join them to access logs).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE crm.change_events ADD COLUMN request_id text")


def downgrade() -> None:
    op.execute("ALTER TABLE crm.change_events DROP COLUMN request_id")
