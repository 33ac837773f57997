"""Rows name what they point at for people: `<ref>_name` next to `<ref>_public_id` (read-only,
API only — bundles keep ids)."""
from __future__ import annotations


def test_references_carry_the_referenced_rows_names(api, client):
    acct = api.create("accounts", {"name": "Initech"})
    ada = api.create("contacts", {"first_name": "Ada", "last_name": "Lovelace",
                                  "account_public_id": acct["public_id"]})
    mail_only = api.create("contacts", {"email": "grace@example.com"})
    opp = api.create("opportunities", {"name": "Big deal", "account_public_id": acct["public_id"],
                                       "contact_public_id": ada["public_id"]})
    assert ada["account_name"] == "Initech"
    assert (opp["account_name"], opp["contact_name"]) == ("Initech", "Ada Lovelace")
    assert api.create("opportunities", {"name": "Alone"})["account_name"] is None
    # a polymorphic reference names whichever row its type points at
    for record_type, row, name in (("contact", mail_only, "grace@example.com"),
                                   ("opportunity", opp, "Big deal"),
                                   ("account", acct, "Initech")):
        act = api.create("activities", {"type": "call", "subject": "Hi", "record_type": record_type,
                                        "record_public_id": row["public_id"]})
        assert act["record_name"] == name
        assert api.get(f"/activities/{act['public_id']}").json["record_name"] == name
    listed = {c["public_id"]: c for c in api.walk("/contacts")}
    assert listed[ada["public_id"]]["account_name"] == "Initech"
    # a rename shows at once: the name is read with the row, not stored on it
    assert api.patch(f"/accounts/{acct['public_id']}", {"name": "Initrode"}).status_code == 200
    assert api.get(f"/contacts/{ada['public_id']}").json["account_name"] == "Initrode"
    # read-only: a body that sends it is refused like any unknown key
    assert api.post("/contacts", {"first_name": "X", "account_name": "Initech"}).status_code == 422


def test_names_are_not_in_the_bundle_export(api, client):
    acct = api.create("accounts", {"name": "Initech"})
    api.create("contacts", {"first_name": "Ada", "account_public_id": acct["public_id"]})
    bundle = client.get("/api/v1/crm/export", headers=api.headers).json
    assert "account_name" not in bundle["contacts"][0]


def test_openapi_documents_the_names_read_only(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert schemas["Contact"]["properties"]["account_name"]["readOnly"] is True
    assert "account_name" not in schemas["ContactCreate"]["properties"]
    assert schemas["Activity"]["properties"]["record_name"]["type"] == "string"
