"""The application's role cannot bypass row-level security (issue 19, item 8).

Before migration 0011 every policy accepted `app.bypass_rls = 'on'`, a setting any role may set.
These tests log in as a non-superuser role that is only a member of `drippulse_app` (what a
production deployment's tenant connections are) and try every way to widen what it sees: the
old bypass setting, an empty or odd `app.current_org`, switching role. Cross-tenant work runs as
`drippulse_maintenance`, which such a role cannot become.
"""
from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors

from shared import db
from tests.security.seed import seed_organization


def _tables() -> list[str]:
    with db.transaction() as conn:
        return list(conn.execute(sa.text(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'crm' AND column_name = 'organization_id' ORDER BY table_name"
        )).scalars())


def _conninfo(url: str, **changes) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql", **changes).render_as_string(
        hide_password=False)


@pytest.fixture
def app_login(database_url: str) -> Iterator[str]:
    """A login role that is only in drippulse_app: no superuser, no BYPASSRLS."""
    name = f"dp_rls_probe_{secrets.token_hex(4)}"
    with psycopg.connect(_conninfo(database_url), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE drippulse_app')
    try:
        yield _conninfo(database_url, username=name, password=None)
    finally:
        with psycopg.connect(_conninfo(database_url), autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def victim(other_org):
    return seed_organization(other_org["organization_id"])


def _visible(cur: psycopg.Cursor, tables: list[str], me: str) -> dict[str, int]:
    seen = {t: cur.execute(f"SELECT count(*) FROM crm.{t} WHERE organization_id <> %s",
                           (me,)).fetchone()[0] for t in tables}
    seen["organizations"] = cur.execute(
        "SELECT count(*) FROM crm.organizations WHERE id <> %s", (me,)).fetchone()[0]
    return seen


def test_the_app_role_cannot_turn_the_bypass_on(app_login, org, victim):
    tables = _tables()
    me = org["organization_id"]
    with psycopg.connect(app_login) as conn, conn.cursor() as cur:
        assert cur.execute("SELECT rolsuper, rolbypassrls FROM pg_roles "
                           "WHERE rolname = current_user").fetchone() == (False, False)
        cur.execute("SELECT set_config('app.bypass_rls', 'on', false)")  # session-wide
        cur.execute("SELECT set_config('app.current_org', %s, true)", (me,))
        cur.execute("SELECT set_config('app.bypass_rls', 'on', true)")
        assert _visible(cur, tables, me) == dict.fromkeys([*tables, "organizations"], 0)
        # its own organization row is visible, and only that one
        assert cur.execute("SELECT id FROM crm.organizations").fetchall() == [(uuid.UUID(me),)]


@pytest.mark.parametrize("current_org", ["", " ", "00000000-0000-0000-0000-000000000000"])
def test_odd_tenant_bindings_see_nothing(app_login, victim, current_org):
    tables = _tables()
    with psycopg.connect(app_login) as conn, conn.cursor() as cur:
        cur.execute("SELECT set_config('app.bypass_rls', 'on', true)")
        if current_org.strip():
            cur.execute("SELECT set_config('app.current_org', %s, true)", (current_org,))
        counts = {t: cur.execute(f"SELECT count(*) FROM crm.{t}").fetchone()[0]
                  for t in [*tables, "organizations"]}
    assert counts == dict.fromkeys(counts, 0)


def test_a_malformed_binding_fails_rather_than_matching(app_login, victim):
    with psycopg.connect(app_login) as conn, conn.cursor() as cur:
        cur.execute("SELECT set_config('app.current_org', %s, true)",
                    (f"{victim.organization_id}' OR true --",))
        with pytest.raises(errors.InvalidTextRepresentation):
            cur.execute("SELECT count(*) FROM crm.accounts")


@pytest.mark.parametrize("statement", [
    "SET ROLE drippulse_maintenance",
    "SELECT set_config('role', 'drippulse_maintenance', true)",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
])
def test_the_app_role_cannot_become_a_wider_role(app_login, statement):
    with psycopg.connect(app_login) as conn, conn.cursor() as cur:
        with pytest.raises((errors.InsufficientPrivilege, errors.InvalidParameterValue)):
            cur.execute(statement)


def test_reset_role_keeps_the_app_role_bound(app_login, org, victim):
    me = org["organization_id"]
    with psycopg.connect(app_login) as conn, conn.cursor() as cur:
        cur.execute("RESET ROLE")
        cur.execute("SELECT set_config('app.current_org', %s, true), "
                    "set_config('app.bypass_rls', 'on', true)", (me,))
        assert _visible(cur, ["accounts", "users", "api_keys"], me) == dict.fromkeys(
            ["accounts", "users", "api_keys", "organizations"], 0)


def test_tenant_transactions_of_the_app_run_as_the_app_role(org, victim):
    me = org["organization_id"]
    with db.tenant_transaction(uuid.UUID(me)) as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "drippulse_app"
        conn.execute(sa.text("SELECT set_config('app.bypass_rls', 'on', true)"))
        assert conn.execute(sa.text("SELECT count(*) FROM crm.organizations")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM crm.accounts WHERE organization_id = "
                                    ":v"), {"v": victim.organization_id}).scalar() == 0


def test_system_transactions_run_as_the_maintenance_role(org, victim):
    with db.transaction() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "drippulse_maintenance"
        orgs = set(conn.execute(sa.text("SELECT id FROM crm.organizations")).scalars())
    assert {uuid.UUID(org["organization_id"]), victim.organization_id} <= orgs
    with db.get_engine().connect() as conn:  # back to the app role once that transaction ended
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "drippulse_app"


def test_organizations_has_forced_row_level_security(settings):
    with db.transaction() as conn:
        flags = conn.execute(sa.text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE oid = 'crm.organizations'::regclass")).one()
        policies = set(conn.execute(sa.text(
            "SELECT policyname FROM pg_policies WHERE schemaname = 'crm' "
            "AND tablename = 'organizations'")).scalars())
    assert tuple(flags) == (True, True)
    assert policies == {"tenant_isolation", "maintenance"}
