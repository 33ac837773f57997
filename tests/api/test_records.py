"""CRUD of every record type, validation, duplicates, soft delete and change history."""
from __future__ import annotations

import pytest

from shared.entities import ENTITIES


def minimal_body(plural: str, api) -> dict:
    if plural in ("accounts", "opportunities"):
        return {"name": "First"}
    if plural == "activities":
        lead = api.create("leads", {"last_name": "Parent"})
        return {"record_type": "lead", "record_public_id": lead["public_id"], "subject": "Call"}
    return {"first_name": "Ada", "email": "ada@example.com"}


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.plural)
def test_crud_round_trip(api, entity):
    created = api.create(entity.plural, minimal_body(entity.plural, api))
    assert created["public_id"].startswith(entity.prefix + "_")
    assert created["deleted_at"] is None and created["custom_fields"] == {}

    for key in (created["id"], created["public_id"]):
        got = api.get(f"/{entity.plural}/{key}")
        assert got.status_code == 200 and got.json == created

    patched = api.patch(f"/{entity.plural}/{created['public_id']}",
                        {"external_system": "hubspot", "external_id": "42",
                         "custom_fields": {"tier": "gold"}})
    assert patched.status_code == 200, patched.json
    assert patched.json["custom_fields"] == {"tier": "gold"}
    assert patched.json["external_system"] == "hubspot"

    listed = api.walk(f"/{entity.plural}")
    assert [r["id"] for r in listed if r["id"] == created["id"]] == [created["id"]]

    assert api.delete(f"/{entity.plural}/{created['id']}").status_code == 204
    assert api.get(f"/{entity.plural}/{created['id']}").status_code == 404
    assert api.get(f"/{entity.plural}/{created['id']}",
                   include_deleted="true").json["deleted_at"] is not None
    assert created["id"] not in [r["id"] for r in api.walk(f"/{entity.plural}")]
    assert created["id"] in [r["id"] for r in api.walk(f"/{entity.plural}",
                                                       include_deleted="true")]
    assert api.delete(f"/{entity.plural}/{created['id']}").status_code == 404
    assert api.patch(f"/{entity.plural}/{created['id']}", {}).status_code == 404

    events = api.walk("/change_events", record_type=entity.name, record_id=created["id"])
    assert [e["event_type"] for e in events] == ["deleted", "updated", "created"]
    assert events[1]["changes"]["external_id"] == [None, "42"]
    assert events[0]["actor"].startswith("api_key:")
    assert api.walk("/change_events", record_id=created["public_id"]) == events


def test_wire_formats(api):
    acct = api.create("accounts", {"name": "Acme", "annual_revenue": 1200.5,
                                   "employee_count": 12})
    opp = api.create("opportunities", {"name": "Big", "amount": "1200.50", "currency": "eur",
                                       "close_date": "2027-01-31",
                                       "account_public_id": acct["public_id"]})
    assert acct["annual_revenue"] == "1200.50"
    assert opp["amount"] == "1200.50" and opp["currency"] == "EUR"
    assert opp["close_date"] == "2027-01-31"
    assert opp["account_id"] == acct["id"] and opp["account_public_id"] == acct["public_id"]
    assert opp["created_at"].endswith("+00:00")
    assert opp["pipeline_stage_name"] == "Unassigned" and opp["status"] == "open"


def test_validation_names_every_bad_field(api):
    resp = api.post("/accounts", {"id": "x", "created_at": "2020-01-01T00:00:00Z",
                                  "bogus": 1, "employee_count": "many", "website": 5})
    assert resp.status_code == 422
    details = resp.json["error"]["details"]
    assert set(details) == {"id", "created_at", "bogus", "employee_count", "website", "name"}
    assert details["id"] == ["is read-only"] and details["name"] == ["is required"]

    acct = api.create("accounts", {"name": "A"})
    resp = api.patch(f"/accounts/{acct['id']}", {"public_id": "acct_new", "name": None})
    assert resp.status_code == 422
    assert set(resp.json["error"]["details"]) == {"public_id", "name"}

    for body, field in (({"email": "not-an-email"}, "email"),
                        ({"account_public_id": "acct_missing"}, "account_public_id"),
                        ({"account_id": "00000000-0000-7000-8000-000000000000"}, "account_id")):
        resp = api.post("/contacts", {"first_name": "Ann", **body})
        assert resp.status_code == 422 and field in resp.json["error"]["details"], resp.json

    assert api.post("/activities", {"record_public_id": acct["public_id"]}).status_code == 422
    assert api.post("/activities", {"record_type": "account"}).status_code == 422
    assert api.post("/activities", {"type": "fax"}).status_code == 422
    resp = api.client.post("/api/v1/crm/accounts", headers=api.headers, data="{nope",
                           content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_request"
    assert api.post("/accounts", ["not", "an", "object"]).status_code == 422


def test_references_to_deleted_rows_are_refused(api):
    acct = api.create("accounts", {"name": "Gone"})
    api.delete(f"/accounts/{acct['id']}")
    resp = api.post("/contacts", {"account_public_id": acct["public_id"]})
    assert resp.status_code == 422


def test_account_cannot_be_its_own_ancestor(api):
    parent = api.create("accounts", {"name": "Parent"})
    child = api.create("accounts", {"name": "Child", "parent_account_id": parent["id"]})
    resp = api.patch(f"/accounts/{parent['id']}", {"parent_account_public_id": child["public_id"]})
    assert resp.status_code == 422
    assert "parent_account_public_id" in resp.json["error"]["details"]


def test_client_public_id_and_duplicates(api, other_api):
    created = api.create("leads", {"public_id": "hs:lead-1", "last_name": "X"})
    assert created["public_id"] == "hs:lead-1"
    assert api.get("/leads/hs:lead-1").json["id"] == created["id"]
    dup = api.post("/leads", {"public_id": "hs:lead-1", "last_name": "Y"})
    assert dup.status_code == 409 and "public_id" in dup.json["error"]["details"]
    # unique within an organization, not across them
    assert other_api.post("/leads", {"public_id": "hs:lead-1",
                                     "last_name": "X"}).status_code == 201
    assert api.post("/leads", {"public_id": "has space", "last_name": "X"}).status_code == 422


def test_patch_records_changes_and_noop_patch_records_nothing(api):
    contact = api.create("contacts", {"first_name": "Ann", "title": "CTO"})
    acct = api.create("accounts", {"name": "Co"})
    resp = api.patch(f"/contacts/{contact['id']}",
                     {"title": "CEO", "account_public_id": acct["public_id"]})
    assert resp.json["title"] == "CEO" and resp.json["account_id"] == acct["id"]
    assert api.patch(f"/contacts/{contact['id']}", {"title": "CEO"}).status_code == 200
    events = api.walk("/change_events", record_id=contact["public_id"], record_type="contact")
    assert [e["event_type"] for e in events] == ["updated", "created"]
    assert events[0]["changes"] == {"title": ["CTO", "CEO"],
                                    "account_public_id": [None, acct["public_id"]]}
    cleared = api.patch(f"/contacts/{contact['id']}", {"account_id": None})
    assert cleared.json["account_id"] is None and cleared.json["account_public_id"] is None


def test_soft_delete_leaves_children(api):
    acct = api.create("accounts", {"name": "Parent"})
    contact = api.create("contacts", {"first_name": "Kid", "account_id": acct["id"]})
    api.delete(f"/accounts/{acct['public_id']}")
    got = api.get(f"/contacts/{contact['id']}").json
    assert got["account_id"] == acct["id"] and got["account_public_id"] == acct["public_id"]


def test_change_events_paginate_newest_first_and_validate(api):
    lead = api.create("leads", {"last_name": "v0"})
    for i in range(1, 6):
        api.patch(f"/leads/{lead['id']}", {"last_name": f"v{i}"})
    events = api.walk("/change_events", record_id=lead["id"], limit=2)
    assert [e["changes"]["last_name"][1] for e in events] == [f"v{i}" for i in range(5, -1, -1)]
    assert [e["event_type"] for e in api.walk("/change_events", event_type="created")] == [
        "created"]
    for params in ({"record_type": "pony"}, {"event_type": "x"}, {"colour": "red"},
                   {"cursor": "abc"}, {"limit": "-1"}):
        assert api.get("/change_events", **params).status_code == 422, params
