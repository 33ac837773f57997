"""Per-organization limit on active jobs: 429 with Retry-After, other tenants unaffected."""
from __future__ import annotations

import uuid

from shared import db
from shared.services.jobs import create_job
from tests.conftest import replace_settings


def test_an_organization_at_its_job_limit_gets_429_and_others_do_not(
        client, org, other_org, fresh_settings):
    replace_settings(fresh_settings, max_active_jobs_per_org=2)
    org_id = uuid.UUID(org["organization_id"])
    with db.tenant_transaction(org_id) as conn:
        for _ in range(2):
            create_job(conn, org_id, "import")  # queued; no worker listens to them here
    body = b'{"version": 1, "accounts": []}'
    json_headers = {"Content-Type": "application/json"}
    refused = client.post("/api/v1/crm/import", data=body, headers=org["headers"] | json_headers)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_jobs"
    assert int(refused.headers["Retry-After"]) > 0
    export = client.post("/api/v1/crm/exports", json={}, headers=org["headers"])
    assert export.status_code == 429
    other = client.post("/api/v1/crm/import", data=body,
                        headers=other_org["headers"] | json_headers)
    assert other.status_code == 202
