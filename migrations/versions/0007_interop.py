"""Imports from other systems: identity by (external_system, external_id), row errors that say
where in the source file they are, job warnings, references by lookup.

- A live row's (external_system, external_id) pair is unique per organization: an import row
  without a public_id that carries the pair updates that row, so the index is what makes
  re-importing another system's export idempotent. It replaces the plain index on the pair.
- job_errors.origin: {"file", "row"} or {"file", "record", "referenceId"} of a converted row.
- jobs.warnings: skipped files, objects and columns, stage names that fell back.
- import_refs.target_by: a deferred parent reference found by name or domain instead of
  public_id (target_public_id then holds the looked-up value).
- accounts by domain: references by domain look rows up with it (names and emails already
  have live indexes).

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RECORD_TABLES = ("accounts", "contacts", "opportunities", "leads", "activities")


def upgrade() -> None:
    for table in RECORD_TABLES:
        # a clear message instead of a bare unique violation when live rows already share a pair
        op.execute(f"""
DO $$ DECLARE dup record; BEGIN
    SELECT organization_id, external_system, external_id INTO dup FROM crm.{table}
    WHERE external_id IS NOT NULL AND external_system IS NOT NULL AND deleted_at IS NULL
    GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'crm.{table}: live rows share (external_system, external_id) = (%, %) '
            'in organization %; give them distinct external ids or delete the duplicates, '
            'then migrate again', dup.external_system, dup.external_id, dup.organization_id;
    END IF;
END $$""")
        op.execute(f"DROP INDEX IF EXISTS crm.{table}_external_idx")
        op.execute(
            f"CREATE UNIQUE INDEX {table}_external_key ON crm.{table} "
            f"(organization_id, external_system, external_id) "
            f"WHERE external_id IS NOT NULL AND external_system IS NOT NULL AND deleted_at IS NULL")
    op.execute("CREATE INDEX accounts_domain_idx ON crm.accounts (organization_id, lower(domain)) "
               "WHERE deleted_at IS NULL AND domain IS NOT NULL")
    op.execute("ALTER TABLE crm.job_errors ADD COLUMN origin jsonb")
    op.execute("ALTER TABLE crm.jobs ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]'::jsonb")
    op.execute("ALTER TABLE crm.import_refs ADD COLUMN target_by text, ADD COLUMN origin jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE crm.import_refs DROP COLUMN target_by, DROP COLUMN origin")
    op.execute("ALTER TABLE crm.jobs DROP COLUMN warnings")
    op.execute("ALTER TABLE crm.job_errors DROP COLUMN origin")
    op.execute("DROP INDEX crm.accounts_domain_idx")
    for table in RECORD_TABLES:
        op.execute(f"DROP INDEX crm.{table}_external_key")
        op.execute(
            f"CREATE INDEX {table}_external_idx ON crm.{table} "
            f"(organization_id, external_system, external_id) WHERE external_id IS NOT NULL")
