"""The least a record must say (docs/api.md "Minimal fields"): a contact or a lead a name or an
email; an activity a subject and a record (its type defaults to note). A blank record is a 422
naming the fields, not a row attached to nothing."""
from __future__ import annotations

import pytest

NAME_OR_EMAIL = "is required when first_name and last_name are empty"


@pytest.mark.parametrize("plural", ["contacts", "leads"])
def test_a_person_needs_a_name_or_an_email(api, plural):
    for body in ({}, {"first_name": "  "}, {"phone": "+1 555", "title": "CEO"}):
        resp = api.post(f"/{plural}", body)
        assert resp.status_code == 422, resp.json
        assert resp.json["error"]["details"]["email"][0].startswith(NAME_OR_EMAIL)
    for body in ({"first_name": "Ann"}, {"last_name": "Lee"}, {"email": "a@b.io"}):
        person = api.create(plural, body)
    # an update may blank some of them, not all at once
    assert api.patch(f"/{plural}/{person['id']}", {"first_name": "Al"}).status_code == 200
    resp = api.patch(f"/{plural}/{person['id']}",
                     {"first_name": None, "last_name": "", "email": None})
    assert resp.status_code == 422 and "email" in resp.json["error"]["details"]


def test_an_activity_needs_a_subject_and_a_record(api):
    lead = api.create("leads", {"last_name": "Lee"})
    resp = api.post("/activities", {})
    assert resp.status_code == 422
    assert set(resp.json["error"]["details"]) == {"subject", "record_public_id"}
    resp = api.post("/activities", {"subject": "Call", "type": "call"})
    assert set(resp.json["error"]["details"]) == {"record_public_id"}
    resp = api.post("/activities", {"subject": " ", "record_type": "lead",
                                    "record_public_id": lead["public_id"]})
    assert set(resp.json["error"]["details"]) == {"subject"}
    act = api.create("activities", {"subject": "Call", "record_type": "lead",
                                    "record_public_id": lead["public_id"]})
    assert act["type"] == "note", "the type has a default"
    for body in ({"subject": None}, {"record_public_id": None}, {"record_id": None}):
        resp = api.patch(f"/activities/{act['id']}", body)
        assert resp.status_code == 422, (body, resp.json)
    assert api.patch(f"/activities/{act['id']}", {"body": "notes"}).status_code == 200


def test_an_update_cannot_leave_a_contact_without_a_name_or_an_email(client, org):
    made = client.post("/api/v1/crm/contacts", headers=org["headers"],
                       json={"email": "only@example.com"})
    assert made.status_code == 201
    resp = client.patch(f"/api/v1/crm/contacts/{made.json['public_id']}",
                        headers=org["headers"], json={"email": None})
    assert resp.status_code == 422 and "email" in resp.json["error"]["details"]
    named = client.patch(f"/api/v1/crm/contacts/{made.json['public_id']}",
                         headers=org["headers"], json={"first_name": "Ona", "email": None})
    assert named.status_code == 200 and named.json["email"] is None
