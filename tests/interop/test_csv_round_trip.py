"""CSV out and back in: export an organization as CSV, import the zip into another one with
source=csv (its own mapping.json), export both as bundles: the same data."""
from __future__ import annotations

import io
import zipfile

from tests.bundles.helpers import errors_of
from tests.bundles_export.seed import seed_bulk, seed_small
from tests.bundles_export.test_round_trip import comparable, export
from tests.interop.e2e_helpers import finished, post_zip


def test_csv_export_imports_back_unchanged(client, org, other_org, worker):
    seed_small(org["organization_id"])
    seed_bulk(org["organization_id"], accounts=30, contacts_per_account=2)
    made = client.post("/api/v1/crm/accounts", headers=org["headers"], json={
        "name": "=HYPERLINK(\"http://evil.test\")", "description": "-5 @SUM(A1) '=kept",
        "custom_fields": {"score": 7, "flags": {"vip": True}, "note": "+1 plan", "empty": ""}})
    assert made.status_code == 201, made.json
    resp = client.get("/api/v1/crm/export?format=csv", headers=org["headers"])
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    data = resp.get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        accounts_csv = archive.read("accounts.csv").decode()
    assert "'=HYPERLINK" in accounts_csv  # inert in a spreadsheet

    job = finished(client, other_org, post_zip(client, other_org, "csv", data))
    assert job["status"] == "succeeded", (job, errors_of(client, other_org, job["id"]))
    first, second = export(client, org), export(client, other_org)
    assert comparable(second) == comparable(first)

    again = finished(client, other_org, post_zip(client, other_org, "csv", data))
    assert again["status"] == "succeeded"
    assert all(p["created"] == 0 and p["updated"] == 0 for p in again["progress"].values()), \
        again["progress"]
