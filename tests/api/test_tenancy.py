"""Another tenant's ids answer 404 on every route and are refused as references."""
from __future__ import annotations

import pytest

from shared.entities import ENTITIES


def seed(api) -> dict:
    acct = api.create("accounts", {"name": "Theirs"})
    contact = api.create("contacts", {"first_name": "Theirs", "account_id": acct["id"]})
    opp = api.create("opportunities", {"name": "Deal", "contact_id": contact["id"]})
    lead = api.create("leads", {"last_name": "L"})
    act = api.create("activities", {"subject": "Call", "record_type": "lead",
                                    "record_id": lead["id"]})
    return {"accounts": acct, "contacts": contact, "opportunities": opp, "leads": lead,
            "activities": act}


@pytest.mark.parametrize("by", ["id", "public_id"])
def test_other_tenants_rows_are_404_everywhere(api, other_api, by):
    theirs = seed(other_api)
    for entity in ENTITIES:
        key = theirs[entity.plural][by]
        path = f"/{entity.plural}/{key}"
        assert api.get(path).status_code == 404
        assert api.get(path, include_deleted="true").status_code == 404
        assert api.patch(path, {"custom_fields": {}}).status_code == 404
        assert api.delete(path).status_code == 404
        assert api.walk(f"/{entity.plural}", include_deleted="true") == []
    their_pipe = other_api.get("/pipelines").json["items"][0]
    for suffix in ("", "/stages", "/board"):
        assert api.get(f"/pipelines/{their_pipe[by]}{suffix}").status_code == 404
    assert api.post(f"/pipelines/{their_pipe[by]}/stages", {"name": "x"}).status_code == 404
    assert api.walk("/change_events", record_id=theirs["accounts"][by]) == []
    # and nothing changed on their side
    assert other_api.get(f"/accounts/{theirs['accounts']['id']}").status_code == 200


def test_references_into_another_tenant_are_422(api, other_api):
    theirs = seed(other_api)
    their_pipe = other_api.get("/pipelines").json["items"][0]
    cases = [
        ("/contacts", {"last_name": "C", "account_id": theirs["accounts"]["id"]}, "account_id"),
        ("/contacts", {"last_name": "C", "account_public_id": theirs["accounts"]["public_id"]},
         "account_public_id"),
        ("/accounts", {"name": "A", "parent_account_id": theirs["accounts"]["id"]},
         "parent_account_id"),
        ("/opportunities", {"name": "O", "contact_public_id": theirs["contacts"]["public_id"]},
         "contact_public_id"),
        ("/opportunities", {"name": "O", "pipeline_id": their_pipe["id"]}, "pipeline_id"),
        ("/opportunities", {"name": "O", "pipeline_stage_id": their_pipe["stages"][0]["id"]},
         "pipeline_stage_id"),
        ("/activities", {"subject": "S", "record_type": "lead",
                         "record_id": theirs["leads"]["id"]}, "record_id"),
    ]
    for path, body, field in cases:
        resp = api.post(path, body)
        assert resp.status_code == 422, (path, body, resp.json)
        assert field in resp.json["error"]["details"], resp.json
