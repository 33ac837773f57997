"""The OpenAPI document: public, and listing every registered /api/v1 route and method."""
from __future__ import annotations

import re

from api.routes.openapi import openapi_path
from shared.entities import ENTITIES


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_openapi_lists_every_route(client, app):
    resp = client.get("/api/v1/openapi.json")  # no token needed
    assert resp.status_code == 200
    spec = resp.json
    assert spec["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = openapi_path(rule.rule)
        item = next((v for k, v in spec["paths"].items() if _shape(k) == _shape(path)), None)
        assert item is not None, f"{rule.rule} missing from the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in item, f"{method} {rule.rule} missing"


def test_openapi_describes_entities_from_their_definition(client):
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    assert schemas["AccountCreate"]["required"] == ["name"]
    assert schemas["Opportunity"]["properties"]["amount"]["type"] == "string"
    assert "record_public_id" in schemas["ActivityUpdate"]["properties"]
    assert "public_id" not in schemas["ContactUpdate"]["properties"]
    assert schemas["ActivityCreate"]["properties"]["type"]["enum"][0] == "call"
    contacts = spec["paths"]["/api/v1/crm/contacts"]["get"]["parameters"]
    assert {"account_public_id", "email", "q", "limit", "cursor"} <= {p["name"] for p in contacts}
    ours = [f"/api/v1/crm/{e.plural}" for e in ENTITIES] + [
        "/api/v1/crm/pipelines/{id}/board", "/api/v1/crm/change_events"]
    for path in ours:
        for method, op in spec["paths"][path].items():
            if method == "parameters":
                continue
            assert "200" in op["responses"] or "201" in op["responses"], (method, path)


def test_openapi_documents_no_route_that_does_not_exist(app):
    from shared.openapi import build_spec

    registered = {}
    for rule in app.url_map.iter_rules():
        methods = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
        registered.setdefault(_shape(openapi_path(rule.rule)), set()).update(methods)
    for path, item in build_spec()["paths"].items():
        assert _shape(path) in registered, f"{path} is documented but not routed"
        documented = set(item) - {"parameters"}
        assert documented <= registered[_shape(path)], (path, documented)


def test_openapi_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    validate(client.get("/api/v1/openapi.json").json)


def test_docs_page_is_served_by_the_app_without_a_cdn(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path in ("/api/v1/crm/accounts", "/api/v1/crm/import", "/api/v1/crm/jobs/{job_id}"):
        assert path in html
    assert "http://" not in html and "https://" not in html


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", op


def test_record_bodies_are_the_marshmallow_schemas(client):
    """Create/Update components are generated from shared/schemas.py: same keys, same
    required fields, same nullability as the validation the API runs."""
    from shared.schemas import record_schema

    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    for entity in ENTITIES:
        for partial, suffix in ((False, "Create"), (True, "Update")):
            ma_schema = record_schema(entity, partial)
            doc = schemas[entity.name.capitalize() + suffix]
            assert set(doc["properties"]) == set(ma_schema.fields), (entity.name, suffix)
            assert doc["additionalProperties"] is False
            required = [k for k, f in ma_schema.fields.items() if f.required]
            assert doc.get("required", []) == required, (entity.name, suffix)
            for key, field in ma_schema.fields.items():
                assert doc["properties"][key].get("nullable", False) == field.allow_none, key
                assert "type" in doc["properties"][key], (entity.name, key)


def test_every_operation_has_schemas_and_an_example(app):
    """Every documented operation: a schema for its body and its responses with content, and
    at least one example (2xx or error)."""
    from shared.openapi import build_spec

    for name, op in _operations(build_spec()):
        for media, obj in op.get("requestBody", {}).get("content", {}).items():
            assert "schema" in obj, (name, media)
        examples = 0
        for status, response in op["responses"].items():
            for media, obj in response.get("content", {}).items():
                assert "schema" in obj, (name, status, media)
                examples += "example" in obj
            if status.startswith("2") and status != "204":
                assert response.get("content"), (name, status)
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert "example" in body, name
        assert examples, name


def test_examples_are_valid_against_their_schemas(client):
    from openapi_schema_validator import OAS30Validator

    spec = client.get("/api/v1/openapi.json").json
    checked = 0
    for name, op in _operations(spec):
        media = [op.get("requestBody", {}).get("content", {}).get("application/json")]
        media += [r.get("content", {}).get("application/json")
                  for r in op["responses"].values()]
        for obj in media:
            if obj and "example" in obj:
                # the components ride along so `#/components/...` resolves in the same document
                validator = OAS30Validator({**obj["schema"], "components": spec["components"]})
                errors = [e.message[:200] for e in validator.iter_errors(obj["example"])]
                assert errors == [], (name, errors)
                checked += 1
    assert checked > 100


def test_docs_page_loads_swagger_ui_from_the_app(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "<style" not in html and "<script>" not in html  # the CSP allows neither inline
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert f"/api/docs/assets/{asset}" in html
        resp = client.get(f"/api/docs/assets/{asset}")
        assert resp.status_code == 200 and len(resp.data) > 10_000, asset
    assert "/static/api_docs/api_docs.js" in html
    # only the files the page loads are served from the package
    assert client.get("/api/docs/assets/oauth2-redirect.html").status_code == 404
    assert client.get("/api/docs/assets/..%2Fflask_swagger_ui.py").status_code == 404
