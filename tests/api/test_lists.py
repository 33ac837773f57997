"""Keyset pagination, filters and their validation."""
from __future__ import annotations


def test_walking_pages_sees_every_row_once(api):
    ids = [api.create("leads", {"last_name": f"L{i}"})["id"] for i in range(23)]
    first = api.get("/leads", limit=5)
    assert len(first.json["items"]) == 5 and first.json["next"]
    walked = api.walk("/leads", limit=5)
    assert [r["id"] for r in walked] == ids
    # a row deleted between pages neither repeats nor shifts the rest
    page1 = api.get("/leads", limit=10).json
    api.delete(f"/leads/{ids[3]}")
    page2 = api.get("/leads", limit=10, cursor=page1["next"]).json
    assert [r["id"] for r in page2["items"]] == ids[10:20]
    assert api.get("/leads", limit=100000).status_code == 200


def test_bad_limit_cursor_and_unknown_filters_are_422(api):
    for params in ({"limit": "0"}, {"limit": "ten"}, {"cursor": "garbage"},
                   {"cursor": "eyJ4IjoxfQ"}, {"colour": "red"},
                   {"include_deleted": "maybe"}, {"updated_since": "yesterday"},
                   {"account_id": "not-a-uuid"}):
        resp = api.get("/contacts", **params)
        assert resp.status_code == 422, (params, resp.json)
        assert resp.json["error"]["code"] == "validation_failed"
    assert api.get("/opportunities", status="pending").status_code == 422
    assert api.get("/activities", type="fax").status_code == 422
    assert "colour" in api.get("/contacts", colour="x").json["error"]["details"]


def test_filters(api):
    acme = api.create("accounts", {"name": "Acme Corp", "external_system": "sf",
                                   "external_id": "001"})
    other = api.create("accounts", {"name": "Other"})
    c1 = api.create("contacts", {"first_name": "Zed", "email": "Zed@Acme.io",
                                 "account_id": acme["id"]})
    c2 = api.create("contacts", {"first_name": "Amy", "account_id": other["id"]})

    def ids(path, **params):
        return [r["id"] for r in api.walk(path, **params)]

    assert ids("/contacts", account_id=acme["id"]) == [c1["id"]]
    assert ids("/contacts", account_public_id=other["public_id"]) == [c2["id"]]
    assert ids("/contacts", email="zed@acme.io") == [c1["id"]]
    assert ids("/contacts", q="am") == [c2["id"]]
    assert ids("/accounts", q="corp") == [acme["id"]]
    assert ids("/accounts", q="%") == []
    assert ids("/accounts", external_system="sf", external_id="001") == [acme["id"]]
    assert ids("/accounts", updated_since="2999-01-01T00:00:00Z") == []

    won_opp = api.create("opportunities", {"name": "W", "status": "won",
                                           "account_id": acme["id"]})
    open_opp = api.create("opportunities", {"name": "O"})
    assert ids("/opportunities", status="won") == [won_opp["id"]]
    assert ids("/opportunities", account_id=acme["id"]) == [won_opp["id"]]
    assert ids("/opportunities", pipeline_stage_id=open_opp["pipeline_stage_id"]) == [
        open_opp["id"]]
    assert set(ids("/opportunities", pipeline_id=open_opp["pipeline_id"])) == {
        won_opp["id"], open_opp["id"]}

    call = api.create("activities", {"type": "call", "subject": "Intro", "record_type": "account",
                                     "record_public_id": acme["public_id"]})
    note = api.create("activities", {"subject": "Notes", "record_type": "contact",
                                     "record_id": c1["id"]})
    assert ids("/activities", record_type="account",
               record_public_id=acme["public_id"]) == [call["id"]]
    assert ids("/activities", record_type="contact", record_id=c1["id"]) == [note["id"]]
    assert ids("/activities", type="call") == [call["id"]]
