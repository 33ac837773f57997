"""Bundle import bookkeeping: batches (the unit of work and its lease), row keys, deferred refs.

Revision ID: 0003
Revises: 0001
"""
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("import_batches", "import_row_keys", "import_refs")

SCHEMA = """
-- One row per batch of N spooled rows. The row lock taken by the batch transaction is the batch's
-- lease: a dead worker's transaction rolls back and frees it; status 'done' commits with the rows.
CREATE TABLE crm.import_batches (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    job_id uuid NOT NULL,
    entity text NOT NULL,
    seq integer NOT NULL,
    row_start integer NOT NULL,
    row_count integer NOT NULL,
    byte_start bigint NOT NULL,
    byte_end bigint NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    enqueued_at timestamptz,
    created integer NOT NULL DEFAULT 0,
    updated integer NOT NULL DEFAULT 0,
    unchanged integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    finished_at timestamptz,
    UNIQUE (job_id, entity, seq),
    FOREIGN KEY (organization_id, job_id) REFERENCES crm.jobs (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX import_batches_pending_idx ON crm.import_batches (job_id, entity, seq)
    WHERE status = 'pending';

-- public_ids already taken by this job, per entity: a later duplicate inside one bundle is
-- reported instead of hitting "ON CONFLICT DO UPDATE cannot affect row a second time".
CREATE TABLE crm.import_row_keys (
    job_id uuid NOT NULL,
    entity text NOT NULL,
    public_id text NOT NULL,
    organization_id uuid NOT NULL,
    PRIMARY KEY (job_id, entity, public_id),
    FOREIGN KEY (organization_id, job_id) REFERENCES crm.jobs (organization_id, id) ON DELETE CASCADE
);

-- Self references (an account's parent) that may point at a row of a later or concurrent batch:
-- applied in one UPDATE once every batch of the entity is done.
CREATE TABLE crm.import_refs (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    job_id uuid NOT NULL,
    entity text NOT NULL,
    row_index integer NOT NULL,
    public_id text NOT NULL,
    target_public_id text NOT NULL,
    FOREIGN KEY (organization_id, job_id) REFERENCES crm.jobs (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX import_refs_job_idx ON crm.import_refs (job_id, entity);
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON crm.import_batches, crm.import_row_keys, "
               "crm.import_refs TO drippulse_app")
    op.execute("GRANT USAGE, SELECT ON crm.import_batches_id_seq, crm.import_refs_id_seq "
               "TO drippulse_app")
    for table in TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE crm.{table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} USING ("
            f"current_setting('app.bypass_rls', true) = 'on' OR "
            f"organization_id = NULLIF(current_setting('app.current_org', true), '')::uuid)"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE crm.{table}")
