"""POST /import edge cases and the jobs endpoints (no worker needed: jobs stay queued)."""
from __future__ import annotations

import io
import uuid

import orjson
import pytest

from shared.jobs import lifecycle
from shared.services import jobs as job_service
from shared.storage import get_storage
from tests.bundles.helpers import bundle, post_bundle, scalar
from tests.conftest import replace_settings


@pytest.fixture
def no_broker(monkeypatch, org):
    """Enqueueing fails as if Redis were down: the API must still answer 202. The jobs left
    queued are cancelled afterwards, so no later sweep picks them up."""
    def down(name, args):
        raise ConnectionError("broker down")
    monkeypatch.setattr("api.routes.bundles_import.enqueue", down)
    yield
    org_id = uuid.UUID(org["organization_id"])
    for job in job_service.list_jobs(org_id, status="queued", limit=500)[0]:
        lifecycle.request_cancel(org_id, str(job.id))


def _uploads(org) -> list:
    root = get_storage().local_path(f"uploads/{org['organization_id']}/x").parent
    return sorted(p.name for p in root.glob("*")) if root.exists() else []


def test_import_answers_202_with_job_and_location_even_without_broker(client, org, no_broker):
    resp = post_bundle(client, org, bundle(accounts=[{"name": "A"}]))
    assert resp.status_code == 202
    job = resp.json
    assert resp.headers["Location"] == f"/api/v1/crm/jobs/{job['id']}"
    assert job["kind"] == "import" and job["status"] == "queued" and job["percent"] == 0
    assert set(job["progress"]) == {"accounts", "contacts", "opportunities", "leads",
                                    "activities"}
    assert job["links"]["errors"] == f"/api/v1/crm/jobs/{job['id']}/errors"
    listed = client.get("/api/v1/crm/jobs?kind=import", headers=org["headers"]).json
    assert [j["id"] for j in listed["items"]] == [job["id"]] and listed["next"] is None


def test_idempotency_key_same_body_same_job_other_body_422(client, org, no_broker):
    headers = {"Idempotency-Key": "k-1"}
    body = bundle(leads=[{"public_id": "lead_a"}])
    first = post_bundle(client, org, body, headers=headers)
    again = post_bundle(client, org, body, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    other = post_bundle(client, org, bundle(leads=[{"public_id": "lead_b"}]), headers=headers)
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert scalar(org, "SELECT count(*) FROM crm.jobs WHERE organization_id = :org") == 1
    assert len(_uploads(org)) == 1  # the replays' uploads were not kept


def test_too_large_upload_is_413_without_job_or_file(client, org, fresh_settings, no_broker):
    replace_settings(fresh_settings, max_upload_bytes=100)
    big = bundle(leads=[{"public_id": f"lead_{i}"} for i in range(50)])
    resp = post_bundle(client, org, big)
    assert resp.status_code == 413 and resp.json["error"]["code"] == "payload_too_large"
    # chunked (no Content-Length): counted while streaming, partial file removed
    resp = client.post("/api/v1/crm/import", headers=org["headers"],
                       input_stream=io.BytesIO(orjson.dumps(big)),
                       content_type="application/json")
    assert resp.status_code == 413
    resp = client.post("/api/v1/crm/import", headers=org["headers"],
                       data={"file": (io.BytesIO(orjson.dumps(big)), "b.json")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413
    assert scalar(org, "SELECT count(*) FROM crm.jobs WHERE organization_id = :org") == 0
    assert _uploads(org) == []


def test_unsupported_media_and_cheap_body_checks(client, org, no_broker):
    resp = client.post("/api/v1/crm/import", headers=org["headers"], data="a,b",
                       content_type="text/csv")
    assert resp.status_code == 415 and resp.json["error"]["code"] == "unsupported_media_type"
    resp = post_bundle(client, org, b"{}", headers={"Content-Encoding": "br"})
    assert resp.status_code == 415
    for body, code in ((b"", "empty_bundle"), (b"  [1]", "invalid_bundle")):
        resp = post_bundle(client, org, body)
        assert resp.status_code == 400 and resp.json["error"]["code"] == code
    resp = post_bundle(client, org, b"{}", headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_gzip"
    resp = client.post("/api/v1/crm/import", headers=org["headers"], data={"other": "x"},
                       content_type="multipart/form-data")
    assert resp.status_code == 422
    assert post_bundle(client, org, b"{}", query="?dry_run=maybe").status_code == 422
    assert scalar(org, "SELECT count(*) FROM crm.jobs WHERE organization_id = :org") == 0


def test_jobs_belong_to_their_organization(client, org, other_org, no_broker):
    job = post_bundle(client, org, bundle()).json
    for path in ("", "/errors"):
        resp = client.get(f"/api/v1/crm/jobs/{job['id']}{path}", headers=other_org["headers"])
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/crm/jobs/{job['id']}/cancel",
                       headers=other_org["headers"]).status_code == 404
    assert client.get("/api/v1/crm/jobs", headers=other_org["headers"]).json["items"] == []
    assert client.get(f"/api/v1/crm/jobs/{uuid.uuid4()}", headers=org["headers"]).status_code == 404
    assert client.get("/api/v1/crm/jobs/nope", headers=org["headers"]).status_code == 404
    assert client.get("/api/v1/crm/jobs?status=bogus", headers=org["headers"]).status_code == 422


def test_jobs_list_paginates(client, org, no_broker):
    ids = [post_bundle(client, org, bundle()).json["id"] for _ in range(3)]
    page = client.get("/api/v1/crm/jobs?limit=2", headers=org["headers"]).json
    assert len(page["items"]) == 2 and page["next"]
    rest = client.get(f"/api/v1/crm/jobs?limit=2&cursor={page['next']}",
                      headers=org["headers"]).json
    assert [j["id"] for j in page["items"] + rest["items"]] == ids[::-1]
    assert rest["next"] is None


def test_stale_queued_job_is_swept_to_the_queue(client, org, no_broker):
    from shared.services.job_sweeper import sweep_stale_jobs

    job_id = post_bundle(client, org, bundle()).json["id"]
    sent: list = []
    sweep_stale_jobs(lambda name, args: sent.append((name, args)), 60)
    assert ("drippulse.import.run", [job_id, False]) not in sent  # fresh: not stale yet
    sweep_stale_jobs(lambda name, args: sent.append((name, args)), 0,
                     organization_id=uuid.UUID(org["organization_id"]))  # stale at once
    assert ("drippulse.import.run", [job_id, False]) in sent
    sent.clear()
    sweep_stale_jobs(lambda name, args: sent.append((name, args)), 60)
    assert ("drippulse.import.run", [job_id, False]) not in sent  # touched: once per period
