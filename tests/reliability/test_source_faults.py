"""A spreadsheet import (source=csv) survives its workers being killed: the conversion is redone
or resumed, every row lands exactly once with its reference, one `imported` event per row."""
from __future__ import annotations

import io
import uuid
import zipfile

import orjson
import pytest
import sqlalchemy as sa

from shared import db
from tests.reliability import harness as h
from tests.reliability.test_worker_faults import _wait_progress

pytestmark = pytest.mark.slow

ACCOUNTS, CONTACTS = 2000, 10000
MAPPING = {"version": 1, "external_system": "legacy", "files": [
    {"file": "accounts.csv", "entity": "accounts", "id_column": "id",
     "columns": {"name": "name"}},
    {"file": "contacts.csv", "entity": "contacts", "id_column": "id",
     "columns": {"email": "email"},
     "references": {"account_public_id": {"column": "account", "by": "external_id"}}}]}


def _upload() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("accounts.csv", "id,name\n" + "".join(
            f"A{i},Account {i}\n" for i in range(ACCOUNTS)))
        archive.writestr("contacts.csv", "id,email,account\n" + "".join(
            f"C{i},c{i}@example.com,A{i % ACCOUNTS}\n" for i in range(CONTACTS)))
        archive.writestr("mapping.json", orjson.dumps(MAPPING))
    return buffer.getvalue()


def test_kill_9_during_a_csv_import_lands_every_row_once(client, org, workers, sweeper):
    org_id = uuid.UUID(org["organization_id"])
    resp = client.post("/api/v1/crm/import?source=csv", data=_upload(), headers=org["headers"],
                       content_type="application/zip")
    assert resp.status_code == 202, resp.json
    job_id = uuid.UUID(resp.json["id"])
    total = ACCOUNTS + CONTACTS
    proc = workers.start()
    kills = 0
    for share in (0.2, 0.6):
        spare = workers.start()
        if _wait_progress(job_id, int(share * total)) == -1:
            break
        h.Workers.kill9(proc)
        kills += 1
        h.assert_batches_whole(org_id, job_id)
        sweeper.resume_now(job_id)
        proc = spare
    assert kills == 2, "the job finished before the kills; the test proved nothing"
    job = h.wait_finished(job_id)
    assert (job.status, job.error_count) == ("succeeded", 0), job._mapping
    assert job.progress["contacts"]["created"] == CONTACTS
    assert h.imported_events(org_id, job_id) == {"account": (ACCOUNTS, ACCOUNTS),
                                                  "contact": (CONTACTS, CONTACTS)}
    with db.tenant_transaction(org_id) as conn:
        wrong = conn.execute(sa.text(
            "SELECT count(*) FROM crm.contacts c LEFT JOIN crm.accounts a "
            "ON a.organization_id = c.organization_id AND a.id = c.account_id "
            "WHERE c.organization_id = :o AND (a.external_id IS NULL OR "
            "a.external_id <> 'A' || (substr(c.external_id, 2)::int % :n))"),
            {"o": org_id, "n": ACCOUNTS}).scalar()
        rows = conn.execute(sa.text("SELECT count(*), count(DISTINCT external_id) FROM "
                                    "crm.contacts WHERE organization_id = :o"),
                            {"o": org_id}).one()
    assert wrong == 0 and tuple(rows) == (CONTACTS, CONTACTS)
