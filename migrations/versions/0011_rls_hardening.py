"""Row-level security no longer trusts a setting the application can set itself.

Before: every policy accepted `app.bypass_rls = 'on'`, a custom setting any role may set, so a
connection as `drippulse_app` could read every tenant with one `set_config`. Now:

- `tenant_isolation` on every tenant table compares `organization_id` with `app.current_org`
  and nothing else;
- cross-tenant work (sweeps, auth lookups, retention, maintenance) runs as the NOLOGIN role
  `drippulse_maintenance`, which has a permissive `maintenance` policy on each table. Only the
  migrating role is made a member, so a login role that is only in `drippulse_app` cannot
  `SET ROLE` to it (Postgres checks the session user's memberships, not settings);
- `organizations` gets row-level security too: a tenant sees its own row only.

`drippulse_maintenance` is a member of `drippulse_app`, so it holds the same table grants and
no more. A table added by a later migration needs both policies (see `TENANT_POLICY` and
`MAINTENANCE_POLICY`).

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TENANT_POLICY = "organization_id = NULLIF(current_setting('app.current_org', true), '')::uuid"
MAINTENANCE_POLICY = ("CREATE POLICY maintenance ON crm.{table} TO drippulse_maintenance "
                      "USING (true) WITH CHECK (true)")
ORG_POLICY = "id = NULLIF(current_setting('app.current_org', true), '')::uuid"
LEGACY = "current_setting('app.bypass_rls', true) = 'on' OR "

# every crm table that holds a tenant_isolation policy today (read from the catalog, so the
# list cannot drift from migrations 0001/0003/0010)
_TENANT_TABLES = ("SELECT tablename FROM pg_policies WHERE schemaname = 'crm' "
                  "AND policyname = 'tenant_isolation' AND tablename <> 'organizations'")


def _tables() -> list[str]:
    return [row[0] for row in op.get_bind().exec_driver_sql(_TENANT_TABLES)]


def upgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles "
        "WHERE rolname = 'drippulse_maintenance') "
        "THEN CREATE ROLE drippulse_maintenance NOLOGIN; END IF; "
        # two databases migrating at once on one cluster race to create the role
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    op.execute("GRANT drippulse_app TO drippulse_maintenance")
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT drippulse_maintenance TO %I', current_user); "
        "EXCEPTION WHEN others THEN NULL; END $$"
    )
    for table in _tables():
        op.execute(f"ALTER POLICY tenant_isolation ON crm.{table} USING ({TENANT_POLICY})")
        op.execute(f"DROP POLICY IF EXISTS maintenance ON crm.{table}")
        op.execute(MAINTENANCE_POLICY.format(table=table))
    op.execute("ALTER TABLE crm.organizations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE crm.organizations FORCE ROW LEVEL SECURITY")
    op.execute("DROP POLICY IF EXISTS tenant_isolation ON crm.organizations")
    op.execute(f"CREATE POLICY tenant_isolation ON crm.organizations USING ({ORG_POLICY})")
    op.execute("DROP POLICY IF EXISTS maintenance ON crm.organizations")
    op.execute(MAINTENANCE_POLICY.format(table="organizations"))


def downgrade() -> None:
    # the role stays: other databases of the cluster may use it
    op.execute("DROP POLICY IF EXISTS maintenance ON crm.organizations")
    op.execute("DROP POLICY IF EXISTS tenant_isolation ON crm.organizations")
    op.execute("ALTER TABLE crm.organizations NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE crm.organizations DISABLE ROW LEVEL SECURITY")
    for table in _tables():
        op.execute(f"DROP POLICY IF EXISTS maintenance ON crm.{table}")
        op.execute(f"ALTER POLICY tenant_isolation ON crm.{table} USING ({LEGACY}{TENANT_POLICY})")
