"""Row-level security: the database itself hides other tenants' rows (OWASP API1, second wall).

A query that forgot its `organization_id` filter must still see only its own organization. The
table list comes from the catalog, so a table added later is checked too.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared import db
from tests.security.seed import seed_organization


def _tenant_tables() -> list[str]:
    with db.transaction() as conn:
        return list(conn.execute(sa.text(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'crm' AND column_name = 'organization_id' ORDER BY table_name"
        )).scalars())


@pytest.fixture
def victim(other_org):
    return seed_organization(other_org["organization_id"])


# Tables the victim fixture owns rows in (the others, e.g. import bookkeeping, are still checked
# for leaks and for forced RLS, just not for being non-empty).
SEEDED = {"accounts", "contacts", "opportunities", "leads", "activities", "change_events",
          "jobs", "job_errors", "opportunity_pipelines", "opportunity_pipeline_stages", "users",
          "api_keys"}


def test_every_tenant_table_forces_row_level_security(settings):
    tables = _tenant_tables()
    assert SEEDED <= set(tables)
    with db.transaction() as conn:
        flags = {r.relname: (r.relrowsecurity, r.relforcerowsecurity) for r in conn.execute(
            sa.text("SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'crm'"))}
    assert {t: flags[t] for t in tables} == {t: (True, True) for t in tables}


def test_unfiltered_queries_see_only_their_own_tenant(org, victim):
    tables = _tenant_tables()
    with db.transaction() as conn:  # the system view: the victim really owns rows everywhere
        owned = {t: conn.execute(sa.text(f"SELECT count(*) FROM crm.{t} WHERE organization_id = :o"),
                                 {"o": victim.organization_id}).scalar() for t in tables}
    assert all(owned[t] for t in SEEDED), owned
    with db.tenant_transaction(org["organization_id"]) as conn:
        leaked = {t: conn.execute(sa.text(
            f"SELECT count(*) FROM crm.{t} WHERE organization_id <> :me"),
            {"me": org["organization_id"]}).scalar() for t in tables}
    assert leaked == dict.fromkeys(tables, 0)


def test_tenant_transaction_cannot_change_other_tenants_rows(org, victim):
    for table in _tenant_tables():
        with db.tenant_transaction(org["organization_id"]) as conn:
            touched = conn.execute(sa.text(
                f"UPDATE crm.{table} SET organization_id = organization_id "
                f"WHERE organization_id = :v"), {"v": victim.organization_id}).rowcount
            deleted = conn.execute(sa.text(f"DELETE FROM crm.{table} WHERE organization_id = :v"),
                                   {"v": victim.organization_id}).rowcount
        assert (table, touched, deleted) == (table, 0, 0)


def test_tenant_transaction_cannot_write_rows_into_another_tenant(org, victim):
    with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
        with db.tenant_transaction(org["organization_id"]) as conn:
            conn.execute(sa.text(
                "INSERT INTO crm.accounts (id, organization_id, public_id, name) "
                "VALUES (gen_random_uuid(), :v, 'acct_planted', 'planted')"),
                {"v": victim.organization_id})
    with db.transaction() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM crm.accounts WHERE public_id = 'acct_planted'")).scalar() == 0


def test_connection_without_a_tenant_sees_nothing(victim):
    # A code path that skipped tenant_transaction() (no app.current_org) must read no rows.
    with db.get_engine().connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM crm.{t}")).scalar()
                  for t in _tenant_tables()}
    assert counts == dict.fromkeys(counts, 0)
