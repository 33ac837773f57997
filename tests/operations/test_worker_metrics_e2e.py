"""Workers record batch metrics in Redis; the API's /metrics shows them."""
from __future__ import annotations

from tests.bundles.helpers import bundle, import_and_wait, wait_job


def _value(client, sample: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_import_and_export_batches_show_up_in_metrics(client, org, worker):
    created = 'drippulse_rows_processed_total{entity="accounts",kind="import",outcome="created"}'
    exported = 'drippulse_rows_processed_total{entity="accounts",kind="export",outcome="exported"}'
    batches = 'drippulse_batch_duration_seconds_count{entity="accounts",kind="import"}'
    before = {s: _value(client, s) for s in (created, exported, batches)}

    accounts = [{"public_id": f"acct_m{i}", "name": f"Metrics {i}"} for i in range(3)]
    job = import_and_wait(client, org, bundle(accounts=accounts))
    assert job["status"] == "succeeded", job
    resp = client.post("/api/v1/crm/exports", headers=org["headers"], json={})
    assert resp.status_code == 202, resp.json
    assert wait_job(client, org, resp.json["id"])["status"] == "succeeded"

    assert _value(client, created) - before[created] >= 3
    assert _value(client, batches) - before[batches] >= 1
    assert _value(client, exported) - before[exported] >= 3
