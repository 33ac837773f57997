"""Saved CSV mappings: one per (organization, set of headers), so the import wizard offers a
colleague's mapping again in any browser (docs/dashboard.md, "Saved mappings").

`headers_key` is a hash of the normalised header list (shared/services/saved_mappings.py
computes it); `headers` keeps the list as it was sent, for people reading it. Row-level
security like every tenant table since 0011: `tenant_isolation` on `app.current_org` and the
`maintenance` policy for the cross-tenant role.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TENANT_POLICY = "organization_id = NULLIF(current_setting('app.current_org', true), '')::uuid"
MAINTENANCE_POLICY = ("CREATE POLICY maintenance ON crm.saved_mappings TO drippulse_maintenance "
                      "USING (true) WITH CHECK (true)")

SCHEMA = """
CREATE TABLE crm.saved_mappings (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    headers_key text NOT NULL,
    headers jsonb NOT NULL CHECK (jsonb_typeof(headers) = 'array'),
    name text NOT NULL,
    mapping jsonb NOT NULL CHECK (jsonb_typeof(mapping) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text,
    UNIQUE (organization_id, headers_key)
);
-- the list pages newest first by id (uuid7) within one organization
CREATE INDEX saved_mappings_org_idx ON crm.saved_mappings (organization_id, id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON crm.saved_mappings TO drippulse_app")
    op.execute("ALTER TABLE crm.saved_mappings ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE crm.saved_mappings FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON crm.saved_mappings USING ({TENANT_POLICY})")
    op.execute(MAINTENANCE_POLICY)


def downgrade() -> None:
    op.execute("DROP TABLE crm.saved_mappings")
