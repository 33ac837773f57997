"""The OpenAPI document lists the error statuses each operation can really give (schemathesis'
status_code_conformance check found 400/415/422 answers that were not documented)."""
from __future__ import annotations

CRM = "/api/v1/crm"


def _ops(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, item, op


def test_every_operation_documents_its_error_statuses(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, method, item, op in _ops(spec):
        statuses = set(op["responses"])
        if op.get("security") != []:
            assert "401" in statuses, (method, path)
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            assert {"400", "415", "422"} <= statuses, (method, path)
        if any(p["in"] == "query" for p in op.get("parameters", [])):
            assert "422" in statuses, (method, path)
        if any(p["in"] == "path" for p in item.get("parameters", [])):
            assert "404" in statuses, (method, path)


def test_the_documented_statuses_are_what_the_api_answers(client, org):
    h = org["headers"]
    acct = client.post(f"{CRM}/accounts", json={"name": "A"}, headers=h).json
    spec = client.get("/api/v1/openapi.json").json["paths"]
    answers = {
        ("post", "/api/v1/crm/accounts"): client.post(f"{CRM}/accounts", headers=h),  # no body
        ("patch", "/api/v1/crm/accounts/{id}"): client.patch(
            f"{CRM}/accounts/{acct['id']}", data=b"null", content_type="application/json",
            headers=h),
        ("get", "/api/v1/crm/accounts/{id}"): client.get(
            f"{CRM}/accounts/{acct['id']}?include_deleted=maybe", headers=h),
        ("get", "/api/v1/crm/pipelines"): client.get(f"{CRM}/pipelines?x=1", headers=h),
        ("get", "/api/v1/crm/jobs"): client.get(f"{CRM}/jobs?status=done", headers=h),
        ("post", "/api/v1/crm/exports"): client.post(f"{CRM}/exports", json={"zip": True},
                                                     headers=h),
    }
    for (method, path), resp in answers.items():
        assert resp.status_code >= 400 and "error" in resp.json, (method, path, resp.json)
        assert str(resp.status_code) in spec[path][method]["responses"], (method, path)


def test_job_errors_may_have_no_entity(client):
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]["JobError"]
    assert schema["properties"]["entity"]["nullable"] is True
