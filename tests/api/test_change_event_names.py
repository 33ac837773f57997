"""Change history names each event's record as people know it (`record_name`): an account's
or opportunity's name, a person's full name (else email), an activity's subject, a pipeline
stage's name — today's name, null once the row is gone, never another organization's."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared import db
from shared.entities import BY_NAME
from shared.services import change_log

CRM = "/api/v1/crm"


def _create(client, org, plural: str, body: dict) -> dict:
    resp = client.post(f"{CRM}/{plural}", json=body, headers=org["headers"])
    assert resp.status_code == 201, resp.json
    return resp.json


def _events(client, org, **params) -> list[dict]:
    resp = client.get(f"{CRM}/change_events", query_string=params, headers=org["headers"])
    assert resp.status_code == 200, resp.json
    return resp.json["items"]


def test_each_event_names_its_record(client, org):
    acct = _create(client, org, "accounts", {"name": "Initech"})
    ada = _create(client, org, "contacts", {"first_name": "Ada", "last_name": "Lovelace",
                                            "account_public_id": acct["public_id"]})
    anon = _create(client, org, "contacts", {"email": "anon@initech.test"})
    lead = _create(client, org, "leads", {"first_name": "Bo", "last_name": "Ray",
                                          "company": "Globex"})
    deal = _create(client, org, "opportunities", {"name": "Initech renewal",
                                                  "account_public_id": acct["public_id"]})
    call = _create(client, org, "activities", {"type": "call", "subject": "Intro call",
                                               "record_type": "contact",
                                               "record_public_id": ada["public_id"]})

    names = {e["public_id"]: e["record_name"] for e in _events(client, org)}
    assert names == {acct["public_id"]: "Initech", ada["public_id"]: "Ada Lovelace",
                     anon["public_id"]: "anon@initech.test", lead["public_id"]: "Bo Ray",
                     deal["public_id"]: "Initech renewal", call["public_id"]: "Intro call"}


def test_the_name_is_todays_and_survives_a_soft_delete(client, org):
    acct = _create(client, org, "accounts", {"name": "Initech"})
    renamed = client.patch(f"{CRM}/accounts/{acct['public_id']}", json={"name": "Initrode"},
                           headers=org["headers"])
    assert renamed.status_code == 200
    assert client.delete(f"{CRM}/accounts/{acct['public_id']}",
                         headers=org["headers"]).status_code == 204
    events = _events(client, org, record_id=acct["public_id"])
    assert [e["event_type"] for e in events] == ["deleted", "updated", "created"]
    assert {e["record_name"] for e in events} == {"Initrode"}
    assert all(e["public_id"] == acct["public_id"] for e in events)


def test_pipeline_stage_events_name_the_stage(client, org):
    pipeline = client.get(f"{CRM}/pipelines", headers=org["headers"]).json["items"][0]
    stage = pipeline["stages"][0]
    resp = client.patch(f"{CRM}/pipelines/{pipeline['id']}/stages/{stage['id']}",
                        json={"name": "First touch"}, headers=org["headers"])
    assert resp.status_code == 200, resp.json
    events = _events(client, org, record_type="pipeline_stage")
    assert events and events[0]["record_name"] == "First touch"


def test_a_row_that_is_gone_has_no_name(client, org):
    acct = _create(client, org, "accounts", {"name": "Short-lived"})
    with db.transaction() as conn:  # a row removed outside the API (no soft delete)
        conn.execute(sa.delete(BY_NAME["account"].table).where(
            BY_NAME["account"].table.c.id == uuid.UUID(acct["id"])))
    events = _events(client, org, record_id=acct["id"])
    assert [(e["event_type"], e["record_name"]) for e in events] == [("created", None)]
    assert events[0]["public_id"] == acct["public_id"]  # the id is still there to read


def test_another_organizations_row_never_lends_its_name(client, org, other_org):
    theirs = _create(client, other_org, "accounts", {"name": "Zanzibar Ltd"})
    # an event of org A that happens to carry the id of org B's row
    with db.transaction() as conn:
        change_log.record_event(conn, uuid.UUID(org["organization_id"]), record_type="account",
                                record_id=uuid.UUID(theirs["id"]), public_id=None,
                                event_type="created", changes={}, actor=None)
    events = _events(client, org, record_id=theirs["id"])
    assert [e["record_name"] for e in events] == [None]
