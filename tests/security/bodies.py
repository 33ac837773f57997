"""Request bodies the security tests send: the least a row of each entity needs."""
from __future__ import annotations

from shared.entities import Entity
from shared.urls import CRM_API as CRM

# what a row needs besides its required columns (a contact or lead: a name or an email; an
# activity: a subject and a record — the record comes from `own_record`)
MINIMAL = {"contact": {"email": "probe@example.com"}, "lead": {"email": "probe@example.com"},
           "activity": {"subject": "probe"}}


def base_body(entity: Entity, own_record: dict | None = None) -> dict:
    body = {f.name: "probe" for f in entity.fields if f.required} | MINIMAL.get(entity.name, {})
    if own_record is not None and entity.name == "activity":
        body |= own_record
    return body


def own_record(client, org) -> dict:
    """A record of the organization's own for an activity to be about."""
    contact = client.post(f"{CRM}/contacts", headers=org["headers"],
                          json={"email": "own-record@example.com"}).json
    return {"record_type": "contact", "record_public_id": contact["public_id"]}
