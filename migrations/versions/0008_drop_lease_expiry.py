"""jobs.lease_expires_at was never written: a run's lease is the job's advisory lock, which
Postgres releases with the connection of a dead worker (shared/services/job_runs.py), so there
is no expiry to store. lease_owner stays: it names the worker running the job.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE crm.jobs DROP COLUMN lease_expires_at")


def downgrade() -> None:
    op.execute("ALTER TABLE crm.jobs ADD COLUMN lease_expires_at timestamptz")
