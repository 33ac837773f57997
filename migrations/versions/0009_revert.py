"""Undoing an import: jobs of kind `revert`, and the index they walk.

A revert walks the import's change events entity by entity in id order (keyset
batches): the job index covers (job_id, record_type, id) instead of job_id alone — the same
number of indexes to maintain per event, so imports write no more.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE crm.jobs DROP CONSTRAINT jobs_kind_check")
    op.execute("ALTER TABLE crm.jobs ADD CONSTRAINT jobs_kind_check "
               "CHECK (kind IN ('import', 'export', 'revert'))")
    op.execute("ALTER TABLE crm.change_events DROP CONSTRAINT change_events_event_type_check")
    op.execute("ALTER TABLE crm.change_events ADD CONSTRAINT change_events_event_type_check "
               "CHECK (event_type IN ('created', 'updated', 'deleted', 'imported', 'reverted'))")
    op.execute("DROP INDEX crm.change_events_job_idx")
    op.execute("CREATE INDEX change_events_job_idx ON crm.change_events (job_id, record_type, id) "
               "WHERE job_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM crm.change_events WHERE event_type = 'reverted'")
    op.execute("ALTER TABLE crm.change_events DROP CONSTRAINT change_events_event_type_check")
    op.execute("ALTER TABLE crm.change_events ADD CONSTRAINT change_events_event_type_check "
               "CHECK (event_type IN ('created', 'updated', 'deleted', 'imported'))")
    op.execute("DELETE FROM crm.jobs WHERE kind = 'revert'")
    op.execute("ALTER TABLE crm.jobs DROP CONSTRAINT jobs_kind_check")
    op.execute("ALTER TABLE crm.jobs ADD CONSTRAINT jobs_kind_check "
               "CHECK (kind IN ('import', 'export'))")
    op.execute("DROP INDEX crm.change_events_job_idx")
    op.execute("CREATE INDEX change_events_job_idx ON crm.change_events (job_id) "
               "WHERE job_id IS NOT NULL")
