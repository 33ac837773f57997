"""API3 mass assignment and API4 resource consumption.

- Server-owned fields (organization_id, id, timestamps) in a POST or PATCH body are a 422 naming
  them; nothing is written.
- `limit` larger than the maximum is clamped; a bad one is a 422.
- Strings longer than their field allows are a 422 naming the field, not a database error.
"""
from __future__ import annotations

import io
import uuid

import pytest
import sqlalchemy as sa

from shared import db
from shared.entities import ACCOUNT, ENTITIES
from shared.ids import mint_public_id, uuid7
from tests.security import routes
from tests.security.bodies import base_body, own_record

CRM = "/api/v1/crm"
SERVER_OWNED = ("organization_id", "id", "created_at", "updated_at", "deleted_at")


def _details(resp) -> dict:
    return (resp.get_json(silent=True) or {}).get("error", {}).get("details") or {}


def _owned_values(other_org) -> dict:
    return {"organization_id": other_org["organization_id"], "id": str(uuid7()),
            "created_at": "2001-01-01T00:00:00+00:00", "updated_at": "2001-01-01T00:00:00+00:00",
            "deleted_at": "2001-01-01T00:00:00+00:00"}


def test_server_owned_fields_in_bodies_are_422(app, client, org, other_org):
    routes.require(app, *(f"{CRM}/{e.plural}" for e in ENTITIES))
    values = _owned_values(other_org)
    failures = []
    for entity in ENTITIES:
        url = f"{CRM}/{entity.plural}"
        own = client.post(url, headers=org["headers"],
                          json=base_body(entity, own_record(client, org)
                                         if entity.name == "activity" else None)).json
        for name in SERVER_OWNED:
            for method, target, body in (("POST", url, base_body(entity) | {name: values[name]}),
                                         ("PATCH", f"{url}/{own['id']}", {name: values[name]})):
                resp = client.open(target, method=method, headers=org["headers"], json=body)
                if resp.status_code != 422 or name not in _details(resp):
                    failures.append(f"{method} {entity.plural} {name}: {resp.status_code}")
        assert client.get(f"{url}/{own['id']}", headers=org["headers"]).json == own
    assert failures == []
    with db.transaction() as conn:  # nothing landed in the other tenant or under a chosen id
        for entity in ENTITIES:
            t = entity.table
            assert conn.execute(sa.select(sa.func.count()).select_from(t).where(
                sa.or_(t.c.organization_id == uuid.UUID(other_org["organization_id"]),
                       t.c.id == uuid.UUID(values["id"])))).scalar() == 0


def test_server_owned_fields_in_pipeline_bodies_are_422(app, client, org, other_org):
    routes.require(app, f"{CRM}/pipelines", f"{CRM}/pipelines/<pipeline_id>/stages")
    pipe = client.get(f"{CRM}/pipelines", headers=org["headers"]).json["items"][0]
    for name, value in _owned_values(other_org).items():
        for url in (f"{CRM}/pipelines", f"{CRM}/pipelines/{pipe['id']}/stages"):
            resp = client.post(url, headers=org["headers"], json={"name": "P", name: value})
            assert resp.status_code == 422 and name in _details(resp), (url, name, resp.json)


def _list_routes(app, client, org) -> list[str]:
    found = []
    for route in routes.protected_routes(app):
        if route.args or "GET" not in route.methods:
            continue
        resp = client.get(route.rule, headers=org["headers"])
        if resp.status_code == 200 and isinstance(resp.get_json(silent=True), dict) \
                and "items" in resp.json:
            found.append(route.rule)
    return found


def test_every_list_clamps_limit_and_refuses_bad_ones(app, client, org):
    routes.require(app, f"{CRM}/accounts")
    lists = _list_routes(app, client, org)
    assert f"{CRM}/accounts" in lists
    for url in lists:
        big = client.get(url, headers=org["headers"], query_string={"limit": 10**12})
        assert big.status_code == 200, (url, big.json)
        for bad in ("0", "-1", "abc", "1e9"):
            resp = client.get(url, headers=org["headers"], query_string={"limit": bad})
            assert resp.status_code == 422 and "limit" in _details(resp), (url, bad, resp.json)


def test_limit_above_the_maximum_serves_one_maximum_page(app, client, org):
    routes.require(app, f"{CRM}/accounts")
    from shared.pagination import MAX_LIMIT

    org_id = uuid.UUID(org["organization_id"])
    with db.tenant_transaction(org_id) as conn:
        conn.execute(ACCOUNT.table.insert(), [
            {"id": uuid7(), "organization_id": org_id, "public_id": mint_public_id("account"),
             "name": f"A{i}", "custom_fields": {}} for i in range(MAX_LIMIT + 1)])
    first = client.get(f"{CRM}/accounts", headers=org["headers"],
                       query_string={"limit": 10**9}).json
    assert len(first["items"]) == MAX_LIMIT and first["next"]
    rest = client.get(f"{CRM}/accounts", headers=org["headers"],
                      query_string={"limit": 10**9, "cursor": first["next"]}).json
    assert len(rest["items"]) == 1 and rest["next"] is None


@pytest.mark.parametrize("entity_name", [e.name for e in ENTITIES])
def test_oversized_strings_are_422_naming_the_field(app, client, org, entity_name):
    entity = next(e for e in ENTITIES if e.name == entity_name)
    routes.require(app, f"{CRM}/{entity.plural}")
    body = base_body(entity)
    # one string past the longest any field allows (activity bodies take 1,000,000 characters)
    huge = "x" * 1_000_001
    text_fields = [f.name for f in entity.fields if f.kind.name.startswith("string")]
    assert text_fields, entity.name
    resp = client.post(f"{CRM}/{entity.plural}", headers=org["headers"],
                       json=body | dict.fromkeys(text_fields, huge) | {"external_id": huge})
    assert resp.status_code == 422
    assert set(text_fields) | {"external_id"} <= set(_details(resp)), _details(resp).keys()
    assert huge not in resp.get_data(as_text=True)  # the error does not echo the payload back


def _upload_leftovers(settings, org_id: str) -> tuple[int, list[str]]:
    from pathlib import Path

    from shared.models import jobs

    with db.transaction() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.organization_id == uuid.UUID(org_id))).scalar()
    root = Path(settings.storage_dir)
    return count, [str(p) for p in root.rglob("*") if p.is_file() and org_id in str(p)]


def test_oversize_upload_is_413_and_leaves_nothing(app, client, org, fresh_settings):
    routes.require(app, f"{CRM}/import")
    from tests.conftest import replace_settings

    settings = replace_settings(fresh_settings, max_upload_bytes=4096)
    body = b'{"version": 1, "accounts": [' + b'{"name": "x"},' * 1000 + b'{"name": "y"}]}'
    declared = client.post(f"{CRM}/import", headers=org["headers"], data=body,
                           content_type="application/json")
    streamed = client.post(f"{CRM}/import", headers=org["headers"],
                           data={"file": (io.BytesIO(body), "bundle.json")},
                           content_type="multipart/form-data")
    for resp in (declared, streamed):
        assert resp.status_code == 413, resp.get_data(as_text=True)
        assert resp.json["error"]["code"] == "payload_too_large"
    assert _upload_leftovers(settings, org["organization_id"]) == (0, [])


def test_every_route_is_behind_the_rate_limit(app, client, org, other_org, fresh_settings):
    from tests.conftest import replace_settings

    replace_settings(fresh_settings, rate_limit_per_minute=1)
    assert client.get("/api/v1/me", headers=org["headers"]).status_code == 200
    failures = []
    for route in routes.protected_routes(app):
        url = routes.build_url(app, route, {a: str(uuid7()) for a in route.params})
        for method in route.methods:
            resp = client.open(url, method=method, headers=org["headers"], json={})
            if resp.status_code != 429 or resp.json["error"]["code"] != "rate_limited" \
                    or int(resp.headers.get("Retry-After", "0")) < 1:
                failures.append(f"{method} {route.rule}: {resp.status_code}")
    assert failures == []
    # the budget is per organization: the other tenant is not throttled by this one
    assert client.get("/api/v1/me", headers=other_org["headers"]).status_code == 200
