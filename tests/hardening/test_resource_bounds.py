"""Issue 19, High 1: a row is bounded (custom_fields size, string lengths: the same limits in
CRUD and import) and so is a list response (pages end by bytes as well as by rows)."""
from __future__ import annotations

from tests.hardening.helpers import job_errors, run_import

CRM = "/api/v1/crm"
# the documented limits (docs/hardening.md), literal so the test also runs against older code
MAX_JSON_CHARS = 256 * 1024
MAX_PAGE_BYTES = 4 * 1024 * 1024
BIG_FIELDS = {"blob": "x" * (MAX_JSON_CHARS + 1)}


def test_custom_fields_over_the_cap_are_422_in_the_api(client, org):
    resp = client.post(f"{CRM}/leads", headers=org["headers"],
                       json={"last_name": "big", "custom_fields": BIG_FIELDS})
    assert resp.status_code == 422, resp.json
    assert "custom_fields" in resp.json["error"]["details"]
    lead = client.post(f"{CRM}/leads", headers=org["headers"],
                       json={"last_name": "ok", "custom_fields": {"a": "x" * 1000}}).json
    resp = client.patch(f"{CRM}/leads/{lead['id']}", headers=org["headers"],
                        json={"custom_fields": {"many": ["y" * 100] * 3000}})
    assert resp.status_code == 422 and "custom_fields" in resp.json["error"]["details"]


def test_custom_fields_over_the_cap_are_a_row_error_in_an_import(org):
    job = run_import(org, {"version": 1, "leads": [
        {"public_id": "lead_big", "last_name": "b", "custom_fields": BIG_FIELDS},
        {"public_id": "lead_ok", "last_name": "o", "custom_fields": {"a": 1}}]})
    assert job["status"] == "completed_with_errors", job
    assert [(e["public_id"], e["field"]) for e in job_errors(org, job["id"])] == [
        ("lead_big", "custom_fields")]


def test_a_list_page_ends_by_bytes_as_well_as_rows(client, org):
    body = "b" * 1_000_000  # the largest value a row may hold (activity body)
    created = []
    lead = client.post(f"{CRM}/leads", headers=org["headers"], json={"last_name": "L"}).json
    for i in range(MAX_PAGE_BYTES // len(body) + 3):
        resp = client.post(f"{CRM}/activities", headers=org["headers"],
                           json={"type": "note", "subject": f"s{i}", "body": body,
                                 "record_type": "lead", "record_public_id": lead["public_id"]})
        assert resp.status_code == 201, resp.json
        created.append(resp.json["id"])
    page = client.get(f"{CRM}/activities?limit=500", headers=org["headers"])
    assert page.status_code == 200
    assert 1 <= len(page.json["items"]) < len(created) and page.json["next"]
    assert len(page.data) < MAX_PAGE_BYTES + 2 * len(body)
    seen = [a["id"] for a in page.json["items"]]
    cursor = page.json["next"]
    while cursor:
        nxt = client.get(f"{CRM}/activities?limit=500&cursor={cursor}",
                         headers=org["headers"]).json
        seen += [a["id"] for a in nxt["items"]]
        cursor = nxt["next"]
    assert seen == created
