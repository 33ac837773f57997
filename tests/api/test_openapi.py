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
