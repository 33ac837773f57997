"""Foundation: schema by Alembic, auth resolving to one organization, JSON errors."""
from __future__ import annotations

from datetime import timedelta

import jwt
import sqlalchemy as sa

from shared import auth, config, db


def test_migrations_create_every_table(settings):
    with db.transaction() as conn:
        tables = set(conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm'"
        )).scalars())
    assert {"organizations", "users", "api_keys", "accounts", "contacts", "leads",
            "opportunities", "opportunity_pipelines", "opportunity_pipeline_stages",
            "activities", "change_events", "jobs", "job_errors"} <= tables


def test_new_organization_has_default_pipeline(org):
    with db.transaction() as conn:
        names = conn.execute(sa.text(
            "SELECT s.name FROM crm.opportunity_pipeline_stages s "
            "JOIN crm.opportunity_pipelines p ON p.id = s.pipeline_id "
            "WHERE p.organization_id = :org AND p.is_default ORDER BY s.position"
        ), {"org": org["organization_id"]}).scalars().all()
    assert names == ["Unassigned", "Prospect", "Qualification", "Proposal", "Negotiation",
                     "Won", "Lost"]


def test_api_key_format_and_health(client, org):
    assert org["api_key"].startswith("dp_")
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json


def test_missing_or_bad_tokens_answer_401_json(client, org):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer dp_abc_def"}):
        resp = client.get("/api/v1/me", headers=headers)
        assert resp.status_code == 401
        assert resp.json["error"]["code"] == "unauthorized"


def test_jwt_rules(client, org, settings):
    good = auth.issue_jwt(org["organization_id"], "user-1")
    assert client.get("/api/v1/me",
                      headers={"Authorization": f"Bearer {good}"}).status_code == 200
    expired = auth.issue_jwt(org["organization_id"], "u", ttl=timedelta(seconds=-5))
    none_alg = jwt.encode({"org": org["organization_id"], "sub": "u", "aud": "drippulse",
                           "exp": 9999999999}, key=None, algorithm="none")
    wrong_aud = jwt.encode({"org": org["organization_id"], "sub": "u", "aud": "other",
                            "exp": 9999999999}, settings.secret_key, algorithm="HS256")
    for token in (expired, none_alg, wrong_aud):
        assert client.get("/api/v1/me",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_revoked_key_fails_at_once(client, org):
    prefix = org["api_key"].split("_")[1]
    with db.transaction() as conn:
        assert auth.revoke_api_key(conn, org["organization_id"], prefix)
    resp = client.get("/api/v1/me", headers=org["headers"])
    assert resp.status_code == 401


def test_production_refuses_default_secret():
    settings = config.load({"DRIPPULSE_ENV": "production"})
    try:
        settings.check()
    except config.ConfigError as exc:
        assert "SECRET_KEY" in str(exc)
    else:
        raise AssertionError("production with the default secret must refuse to start")


def test_unknown_route_is_json_404(client):
    resp = client.get("/nope")
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"


def test_row_level_security_hides_other_tenants(org, other_org):
    with db.tenant_transaction(org["organization_id"]) as conn:
        visible = set(conn.execute(sa.text(
            "SELECT DISTINCT organization_id::text FROM crm.opportunity_pipelines")).scalars())
    assert visible == {org["organization_id"]}


def test_migrations_downgrade_to_empty_and_upgrade_again(database_url):
    import psycopg

    from shared import migrate

    server = sa.engine.make_url(database_url)
    name = f"{server.database}_mig"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        with psycopg.connect(server.set(drivername="postgresql", database=name)
                             .render_as_string(hide_password=False)) as conn:
            left = conn.execute("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_schema = 'crm' AND table_name <> 'alembic_version'"
                                ).fetchone()[0]
        assert left == 0
        migrate.upgrade(url)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_unexpected_error_is_a_json_500_with_request_id_and_no_trace(settings, caplog):
    from api.app import create_app

    app = create_app(settings)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = app.test_client().get("/boom", headers={"X-Request-ID": "req-boom-1"})
    assert resp.status_code == 500
    assert resp.json == {"error": {"code": "internal_error",
                                   "message": "An unexpected error occurred", "details": None}}
    assert "secret internals" not in resp.get_data(as_text=True)
    assert resp.headers.get("X-Request-ID") == "req-boom-1"


def test_malformed_json_wrong_type_method_and_size(client, org):
    url = "/api/v1/crm/accounts"
    bad_json = client.post(url, data=b"{nope", headers=org["headers"] | {
        "Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "error" in bad_json.json
    wrong_type = client.post(url, data=b"name=x", headers=org["headers"] | {
        "Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status_code == 415 and "error" in wrong_type.json
    method = client.put(url, json={}, headers=org["headers"])
    assert method.status_code == 405 and method.json["error"]["code"] == "method_not_allowed"
    huge = client.post(url, data=b'{"name": "' + b"x" * (17 * 1024 * 1024) + b'"}',
                       headers=org["headers"] | {"Content-Type": "application/json"})
    assert huge.status_code == 413 and "error" in huge.json
