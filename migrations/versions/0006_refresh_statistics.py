"""A way for the application role to refresh planner statistics after a bulk import.

ANALYZE needs the table's owner (Postgres 15 has no MAINTAIN privilege), and the application runs
as drippulse_app. This function runs as its owner, the migrating role, and analyzes only the
record tables and the change log.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ANALYZABLE = ("accounts", "contacts", "opportunities", "leads", "activities", "change_events")


def upgrade() -> None:
    names = ", ".join(f"'{name}'" for name in ANALYZABLE)
    op.execute(f"""
CREATE FUNCTION crm.refresh_statistics(table_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF table_name IS NULL OR table_name NOT IN ({names}) THEN
        RAISE EXCEPTION 'statistics are refreshed only for record tables, not %', table_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- SKIP_LOCKED: a concurrent ANALYZE (another import, autovacuum) already does the work
    EXECUTE format('ANALYZE (SKIP_LOCKED) crm.%I', table_name);
END $$""")
    op.execute("REVOKE ALL ON FUNCTION crm.refresh_statistics(text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.refresh_statistics(text) TO drippulse_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION crm.refresh_statistics(text)")
