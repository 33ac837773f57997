"""Tenant connections log in as a role that is only in drippulse_app (issue 19, item 8).

A database of its own, migrated; `drippulse db create-app-login` makes the login role and the
settings get DRIPPULSE_APP_DATABASE_URL with it. On that database a test-only RESTRICTIVE
policy lets tenant rows be seen or written only by a session that logged in as that role (or by
drippulse_maintenance, i.e. system transactions). So every API request, import and export below
that works proves its tenant SQL — COPY paths, the export snapshot, the SSE stream — went over
the new URL: over DATABASE_URL it would see and write nothing.
"""
from __future__ import annotations

import dataclasses
import io
import json
import secrets
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator

import orjson
import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors, sql

from shared import config, db, migrate
from shared.bundle.export_jobs import create_export_job, run_export_job
from shared.bundle.upload import submit_import
from shared.services import jobs as job_service
from shared.services import organizations
from shared.services.job_sweeper import sweep_stale_jobs
from tests.conftest import REPO, settings_env
from tests.hardening.helpers import LocalQueue

CRM = "/api/v1/crm"
PASSWORD_ENV = "DP_TEST_APP_LOGIN_PASSWORD"


def _admin(url: str, **changes) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql", **changes).render_as_string(
        hide_password=False)


def _create_app_login(settings: config.Settings, name: str,
                      password: str) -> subprocess.CompletedProcess:
    env = settings_env(settings) | {PASSWORD_ENV: password}
    return subprocess.run(
        [sys.executable, "-m", "drippulse", "db", "create-app-login", name,
         "--password-env", PASSWORD_ENV],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def _only_the_login(conn: psycopg.Connection, login: str) -> None:
    """Tenant rows are visible to, and writable by, `login` sessions and system transactions
    only (a restrictive policy is ANDed with the tenant_isolation ones)."""
    check = sql.SQL("session_user = {} OR current_user = 'drippulse_maintenance'").format(
        sql.Literal(login))
    tables = [t for (t,) in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'crm' AND c.relkind = 'r' AND c.relrowsecurity")]
    assert "accounts" in tables and "organizations" in tables
    for table in tables:
        conn.execute(sql.SQL("CREATE POLICY tenant_login_only ON crm.{} AS RESTRICTIVE "
                             "TO drippulse_app USING ({}) WITH CHECK ({})").format(
            sql.Identifier(table), check, check))


@dataclasses.dataclass
class Stack:
    settings: config.Settings
    login: str
    password: str
    first_run: dict
    client: object


@pytest.fixture(scope="module")
def stack(settings: config.Settings) -> Iterator[Stack]:
    server = sa.engine.make_url(settings.database_url)
    name = f"dp_applogin_{secrets.token_hex(4)}"
    login = f"dp_tenant_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    with psycopg.connect(_admin(settings.database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database_url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(database_url)
        system = dataclasses.replace(settings, database_url=database_url)
        made = _create_app_login(system, login, password)
        assert made.returncode == 0, made.stderr
        first_run = json.loads(made.stdout)
        with psycopg.connect(_admin(database_url), autocommit=True) as conn:
            _only_the_login(conn, login)
        tenant_url = sa.engine.make_url(first_run["url"]).set(password=password)
        both = dataclasses.replace(system, app_database_url=tenant_url.render_as_string(
            hide_password=False))
        from api.app import create_app

        app = create_app(both)  # installs these settings for the module
        app.config["TESTING"] = True
        yield Stack(both, login, password, first_run, app.test_client())
    finally:
        config.set_settings(settings)
        db.dispose_engines(close=True)
        with psycopg.connect(_admin(settings.database_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


@pytest.fixture
def tenant(stack: Stack) -> dict:
    created = organizations.create_organization(f"Tenant {secrets.token_hex(3)}")
    created["headers"] = {"Authorization": f"Bearer {created['api_key']}"}
    return created


def test_the_command_makes_a_login_that_is_only_in_the_app_role(stack: Stack):
    server = sa.engine.make_url(stack.settings.database_url)
    assert stack.first_run == {
        "role": stack.login, "created": True, "password_set": True,
        "setting": "DRIPPULSE_APP_DATABASE_URL",
        "url": server.set(drivername="postgresql+psycopg", username=stack.login,
                          password="x").render_as_string(hide_password=True)}
    assert ":***@" in stack.first_run["url"]

    again = _create_app_login(stack.settings, stack.login, stack.password)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["created"] is False  # idempotent
    assert stack.password not in again.stdout + again.stderr  # never echoed

    with psycopg.connect(_admin(stack.settings.database_url)) as conn:
        attributes = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, "
            "rolreplication FROM pg_roles WHERE rolname = %s", (stack.login,)).fetchone()
        member_of = conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s", (stack.login,)).fetchall()
    assert attributes == (True, False, False, False, False, False)
    assert member_of == [("drippulse_app",)]


def test_the_command_never_widens_nor_narrows_an_existing_role(stack: Stack):
    wide = f"dp_wide_{secrets.token_hex(4)}"
    admin = _admin(stack.settings.database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB IN ROLE drippulse_maintenance")
                     .format(sql.Identifier(wide)))
    try:
        refused = _create_app_login(stack.settings, wide, "pw-" + secrets.token_hex(8))
        assert refused.returncode == 1 and refused.stdout == ""
        error = json.loads(refused.stderr)["error"]
        assert error["code"] == "conflict"
        assert error["details"]["attributes"] == ["createdb"]
        assert error["details"]["member_of"] == ["drippulse_maintenance"]
        with psycopg.connect(admin) as conn:  # left exactly as it was
            assert conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = %s",
                                (wide,)).fetchone() == (True,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(wide)))


def test_tenant_transactions_log_in_as_the_app_login_and_system_ones_do_not(stack, tenant):
    with db.tenant_transaction(uuid.UUID(tenant["organization_id"])) as conn:
        assert tuple(conn.execute(sa.text("SELECT session_user, current_user")).one()) == (
            stack.login, "drippulse_app")
    system_login = sa.engine.make_url(stack.settings.database_url).username
    with db.transaction() as conn:  # DATABASE_URL, widened for this transaction only
        assert tuple(conn.execute(sa.text("SELECT session_user, current_user")).one()) == (
            system_login, "drippulse_maintenance")
    assert db.get_tenant_engine() is not db.get_engine()


def test_tenant_connections_cannot_become_a_wider_role(stack):
    for statement in ("SET ROLE drippulse_maintenance", "SET ROLE postgres",
                      "SELECT set_config('role', 'drippulse_maintenance', false)",
                      "SET SESSION AUTHORIZATION postgres"):
        with db.get_tenant_engine().connect() as conn:
            with pytest.raises(sa.exc.DBAPIError) as refused:
                conn.execute(sa.text(statement))
            assert isinstance(refused.value.orig, errors.InsufficientPrivilege), statement


def test_api_import_and_export_work_over_the_app_login(stack, tenant):
    client, headers = stack.client, tenant["headers"]
    org_id = uuid.UUID(tenant["organization_id"])
    made = client.post(f"{CRM}/accounts", headers=headers, json={"name": "Made by API"})
    assert made.status_code == 201, made.json  # the key lookup is a system transaction
    assert client.get(f"{CRM}/accounts/{made.json['public_id']}",
                      headers=headers).json["name"] == "Made by API"

    # an import whose enqueue was lost: the sweeper (system work) finds and re-sends it
    body = orjson.dumps({"version": 1, "accounts": [{"public_id": "acct_imported",
                                                     "name": "Imported"}],
                         "contacts": [{"first_name": "Ida", "email": "ida@example.com",
                                       "account_public_id": "acct_imported"}]})
    job, _ = submit_import(org_id, "test", io.BytesIO(body), limit=10**8, dry_run=False,
                           idempotency_key=None, expect_gzip=False,
                           enqueue=lambda name, args: None)
    queue = LocalQueue()
    assert sweep_stale_jobs(queue, 0, organization_id=org_id) == {"checked": 1, "requeued": 1}
    queue.drain()
    done = job_service.job_json(job_service.get_job(org_id, job.id))
    assert done["status"] == "succeeded", done
    assert (done["progress"]["accounts"]["created"],
            done["progress"]["contacts"]["created"]) == (1, 1)
    events = client.get(f"{CRM}/jobs/{job.id}/events", headers=headers)
    assert events.status_code == 200 and '"status":"succeeded"' in events.get_data(as_text=True)

    streamed = client.get(f"{CRM}/export", headers=headers)  # COPY from one snapshot
    assert streamed.status_code == 200
    bundle = json.loads(streamed.data)
    assert sorted(a["name"] for a in bundle["accounts"]) == ["Imported", "Made by API"]
    assert [c["email"] for c in bundle["contacts"]] == ["ida@example.com"]

    as_csv = client.get(f"{CRM}/export?format=csv", headers=headers)
    assert as_csv.status_code == 200
    with zipfile.ZipFile(io.BytesIO(as_csv.data)) as archive:
        assert "Made by API" in archive.read("accounts.csv").decode()

    export = create_export_job(org_id, {"gzip": False, "include_deleted": True},
                               lambda name, args: None, created_by="test")
    assert run_export_job(export.id) == "succeeded"
    download = client.get(f"{CRM}/jobs/{export.id}/download", headers=headers)
    assert download.status_code == 200
    assert sorted(a["name"] for a in json.loads(download.data)["accounts"]) == [
        "Imported", "Made by API"]

    ready = client.get("/readyz")  # probes both logins
    assert ready.status_code == 200 and ready.json["checks"]["database"] == "ok"


# names Postgres keeps for itself (pg_*, public, none) or that SQL reads as a role keyword
RESERVED_NAMES = ("pg_dp_login", "pg_signal_backend", "public", "none", "current_user",
                  "current_role", "session_user", "user", "all")


def test_reserved_role_names_are_refused_with_a_clear_error(stack: Stack):
    admin = _admin(stack.settings.database_url)
    try:
        for name in RESERVED_NAMES:
            refused = _create_app_login(stack.settings, name, "pw-" + secrets.token_hex(8))
            assert refused.returncode == 1 and refused.stdout == "", (name, refused.stderr)
            assert "Traceback" not in refused.stderr, name
            error = json.loads(refused.stderr)["error"]
            assert error["code"] == "bad_request", name
            assert error["details"]["name"] == name
    finally:  # a run before the fix may have made some of them: leave the cluster as it was
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in ("current_user", "current_role", "session_user", "user", "all"):
                try:
                    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
                except psycopg.Error:
                    pass


def test_a_role_statement_postgres_refuses_is_a_clear_error(stack: Stack, monkeypatch):
    # past the up-front checks (here: switched off), Postgres' own refusal of CREATE ROLE
    # (ReservedName for pg_*) becomes the command's bad_request, not a psycopg traceback
    from drippulse import app_login
    from shared.errors import BadRequest

    monkeypatch.setattr(app_login, "_check_name", lambda role: None, raising=False)
    with pytest.raises(BadRequest) as refused:
        app_login.ensure_app_login(stack.settings.database_url, "pg_dp_login", None)
    assert refused.value.details["name"] == "pg_dp_login"
    assert "reserved" in refused.value.details["postgres"]
