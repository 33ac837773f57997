"""A revert survives its worker being killed: it resumes after the last committed batch, every
row ends reverted exactly once (one `reverted` event each), values exactly as before."""
from __future__ import annotations

import uuid

import orjson
import pytest
import sqlalchemy as sa

from shared import db
from tests.reliability import harness as h
from tests.reliability.test_worker_faults import _wait_progress

pytestmark = pytest.mark.slow

ROWS = 6000


def _bundle(suffix: str) -> bytes:
    return orjson.dumps({"version": 1, "accounts": [
        {"public_id": f"acct_rev{i}", "name": f"Account {i} {suffix}"} for i in range(ROWS)]})


def test_kill_9_during_a_revert_reverts_every_row_once(client, org, workers, sweeper):
    org_id = uuid.UUID(org["organization_id"])
    proc = workers.start()
    first = h.submit(client, org, _bundle("original"))
    assert h.wait_finished(first).status == "succeeded"
    update = h.submit(client, org, _bundle("changed"))
    assert h.wait_finished(update).status == "succeeded"
    resp = client.post(f"/api/v1/crm/jobs/{update}/revert", headers=org["headers"])
    assert resp.status_code == 202, resp.json
    revert = uuid.UUID(resp.json["id"])
    kills = 0
    for share in (0.25, 0.6):
        spare = workers.start()
        if _wait_progress(revert, int(share * ROWS)) == -1:
            break
        h.Workers.kill9(proc)
        kills += 1
        sweeper.resume_now(revert)
        proc = spare
    assert kills == 2, "the revert finished before the kills; the test proved nothing"
    job = h.wait_finished(revert)
    assert (job.status, job.error_count) == ("succeeded", 0), job._mapping
    assert job.progress["accounts"]["restored"] == ROWS
    with db.tenant_transaction(org_id) as conn:
        names = conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE name LIKE '% original'), count(*) "
            "FROM crm.accounts WHERE organization_id = :o"), {"o": org_id}).one()
        events = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT record_id) FROM crm.change_events "
            "WHERE organization_id = :o AND event_type = 'reverted'"), {"o": org_id}).one()
    assert tuple(names) == (ROWS, ROWS)
    assert tuple(events) == (ROWS, ROWS)
