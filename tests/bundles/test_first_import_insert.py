"""A first import into an organization without rows of an entity writes its batches as plain
inserts; a row that appears after the spool (the API, another import) must not make the import
fail nor lose a row: its batch falls back to the upsert."""
from __future__ import annotations

import io
import uuid

import orjson

from shared.bundle.upload import submit_import
from shared.jobs import runner as job_runner
from shared.services import jobs as job_service
from tests.bundles.helpers import bundle, rows, scalar
from tests.conftest import replace_settings
from tests.hardening.helpers import LocalQueue, job_errors, run_import

DELETED_AT = "2025-05-05T00:00:00+00:00"


def _contacts(n: int) -> list[dict]:
    return [{"public_id": f"ct_{i:03d}", "first_name": f"Person {i}",
             "email": f"p{i}@example.com"} for i in range(n)]


def _events(org) -> list[tuple[str, dict]]:
    with_outcome = scalar(org, "SELECT jsonb_agg(jsonb_build_array(public_id, changes) "
                               "ORDER BY public_id) FROM crm.change_events "
                               "WHERE organization_id = :org AND event_type = 'imported'")
    return [tuple(item) for item in with_outcome or []]


def test_a_first_import_creates_every_row_with_one_created_event(client, org):
    accounts = [{"public_id": "acct_1", "name": "Acme"},
                {"public_id": "acct_2", "name": "Gone", "deleted_at": DELETED_AT}]
    contacts = [{**c, "account_public_id": "acct_1"} for c in _contacts(30)]
    job = run_import(org, bundle(accounts=accounts, contacts=contacts))
    assert job["status"] == "succeeded", job
    assert job["progress"]["accounts"]["created"] == 2
    assert job["progress"]["contacts"]["created"] == 30
    stored = rows(org, "contacts")
    assert len(stored) == 30
    acct_id = {a["public_id"]: a["id"] for a in rows(org, "accounts")}["acct_1"]
    assert {c["account_id"] for c in stored} == {acct_id}
    events = dict(_events(org))
    assert len(events) == 32
    assert events["acct_2"] == {"outcome": "created", "deleted": True}
    assert events["acct_1"] == {"outcome": "created"}
    # the event points at the row it created
    assert scalar(org, "SELECT count(*) FROM crm.change_events e JOIN crm.contacts c "
                       "ON c.id = e.record_id WHERE e.organization_id = :org") == 30
    # a second import of the same bundle goes through the upsert: nothing changes
    again = run_import(org, bundle(accounts=accounts, contacts=contacts))
    assert again["progress"]["contacts"]["unchanged"] == 30, again


def test_a_row_created_after_the_spool_is_updated_not_refused(client, org, settings):
    replace_settings(settings, batch_size=10)
    queue = LocalQueue()
    org_id = uuid.UUID(org["organization_id"])
    body = orjson.dumps(bundle(contacts=_contacts(25)))
    job, _ = submit_import(org_id, "test", io.BytesIO(body), limit=10**8, dry_run=False,
                           idempotency_key=None, expect_gzip=False, enqueue=queue)
    name, args = queue.messages.pop(0)
    assert name.endswith("import.run")
    job_runner.run_job(uuid.UUID(args[0]), queue)  # spools: contacts found empty
    # meanwhile someone creates one of the bundle's contacts through the API
    resp = client.post("/api/v1/crm/contacts", headers=org["headers"],
                       json={"public_id": "ct_013", "first_name": "Typed by hand"})
    assert resp.status_code == 201, resp.json
    queue.drain()
    done = job_service.job_json(job_service.get_job(org_id, job.id))
    assert done["status"] == "succeeded", done
    assert job_errors(org, done["id"]) == []
    counts = done["progress"]["contacts"]
    assert (counts["created"], counts["updated"], counts["failed"]) == (24, 1, 0)
    stored = {c["public_id"]: c for c in rows(org, "contacts")}
    assert len(stored) == 25
    assert stored["ct_013"]["first_name"] == "Person 13"
    assert stored["ct_013"]["id"] == uuid.UUID(resp.json["id"])  # updated in place
    outcomes = [changes["outcome"] for _, changes in _events(org)]
    assert sorted(outcomes) == ["created"] * 24 + ["updated"]
