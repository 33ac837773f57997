"""Export org A → import into org B → export B: the same rows, modulo what identifies the
organization (ids, organization_id, exported_at) and the uuid-valued pipeline fields."""
from __future__ import annotations

import json

from tests.hardening.helpers import export, export_bytes, run_import

CRM = "/api/v1/crm"
# Values that name org A's own rows or pipeline; everything else must survive the trip.
ORG_BOUND = {"pipeline_id", "pipeline_stage_id"}
# an import stamps updated_at with the time it wrote the row (so updated_since finds it)
WRITE_TIME = {"updated_at"}


def _post(client, org, plural: str, body: bytes | dict) -> dict:
    kw = {"data": body, "content_type": "application/json"} if isinstance(body, bytes) \
        else {"json": body}
    resp = client.post(f"{CRM}/{plural}", headers=org["headers"], **kw)
    assert resp.status_code == 201, resp.json
    return resp.json


def _seed(client, org) -> None:
    parent = _post(client, org, "accounts", {"name": "Parent", "employee_count": 40,
                                             "annual_revenue": "1200000.50"})
    # a jsonb number beyond 64 bits, nested data and non-ASCII text: all legal, all kept
    child = _post(client, org, "accounts", (
        b'{"name": "Kind \\u00e9\\u00e8 \\u6771\\u4eac \\ud83d\\ude80", '
        b'"parent_account_public_id": "' + parent["public_id"].encode() + b'", '
        b'"custom_fields": {"big": 123456789012345678901234567890, "tags": ["a", {"b": [1.5]}],'
        b' "none": null}}'))
    contact = _post(client, org, "contacts", {"first_name": "Ada", "email": "ada@example.com",
                                              "account_public_id": child["public_id"]})
    gone = _post(client, org, "contacts", {"first_name": "Gone",
                                           "account_public_id": parent["public_id"]})
    pipeline = client.get(f"{CRM}/pipelines", headers=org["headers"]).json["items"][0]
    proposal = next(s for s in pipeline["stages"] if s["name"] == "Proposal")
    opp = _post(client, org, "opportunities", {
        "name": "Deal", "amount": "99.90", "currency": "EUR", "close_date": "2026-03-01",
        "account_public_id": child["public_id"], "contact_public_id": contact["public_id"],
        "pipeline_stage_id": proposal["id"], "stage_position": 0})
    _post(client, org, "opportunities", {"name": "Unplaced"})
    lead = _post(client, org, "leads", {"first_name": "Lin", "company": "Acme",
                                        "status": "new", "external_system": "hubspot",
                                        "external_id": "42"})
    for record_type, row in (("opportunity", opp), ("lead", lead), ("contact", gone)):
        _post(client, org, "activities", {"type": "call", "subject": f"About {record_type}",
                                          "record_type": record_type,
                                          "record_public_id": row["public_id"],
                                          "occurred_at": "2025-01-02T03:04:05+02:00"})
    # an activity needs a subject and a record (docs/api.md, minimal fields)
    _post(client, org, "activities", {"type": "note", "subject": "Notes", "body": "plain",
                                      "record_type": "lead", "record_public_id": lead["public_id"]})
    # soft-deleted rows are exported (and their activity still points at them)
    assert client.delete(f"{CRM}/contacts/{gone['id']}", headers=org["headers"]).status_code == 204


def _comparable(bundle: dict) -> dict:
    out = {}
    for plural in ("accounts", "contacts", "opportunities", "leads", "activities"):
        rows = [{k: v for k, v in row.items() if k not in ORG_BOUND | WRITE_TIME}
                for row in bundle[plural]]
        out[plural] = sorted(rows, key=lambda r: r["public_id"])
    return out


def test_export_import_export_gives_the_same_rows(client, org, other_org):
    _seed(client, org)
    raw = export_bytes(client, org)
    first = json.loads(raw)
    job = run_import(other_org, raw)  # the exported bytes as they are
    assert job["status"] == "succeeded", job
    second = export(client, other_org)
    assert second["organization_id"] == other_org["organization_id"]
    before, after = _comparable(first), _comparable(second)
    for plural, rows in before.items():
        assert len(after[plural]) == len(rows), plural
        for old, new in zip(rows, after[plural], strict=True):
            changed = {k: (old.get(k), new.get(k)) for k in old.keys() | new.keys()
                       if old.get(k) != new.get(k)}
            assert not changed, (plural, old["public_id"], changed)
    big = [a["custom_fields"].get("big") for a in second["accounts"]]
    assert 123456789012345678901234567890 in big  # exact, not a float
    # the stages are B's own: same names, B's uuids
    stage_ids = {s["id"] for p in client.get(f"{CRM}/pipelines", headers=other_org["headers"])
                 .json["items"] for s in p["stages"]}
    assert {o["pipeline_stage_id"] for o in second["opportunities"]} <= stage_ids
    # and importing B's export again changes nothing
    again = run_import(other_org, export_bytes(client, other_org))
    assert again["status"] == "succeeded"
    assert sum(p["unchanged"] for p in again["progress"].values()) == sum(
        p["total"] for p in again["progress"].values())
