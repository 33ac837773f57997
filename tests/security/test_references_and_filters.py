"""API1 through the body and the query string: another tenant's ids are refused or match nothing.

- A POST or PATCH body referencing another organization's row (by public_id or uuid) is a 422
  naming the field, like a reference to a row that does not exist.
- List filters given another organization's ids return no rows (not theirs, not ours).
"""
from __future__ import annotations

import pytest

from shared.entities import ENTITIES, Entity
from tests.security import routes
from tests.security.bodies import base_body, own_record
from tests.security.seed import Owned, seed_organization

CRM = "/api/v1/crm"


@pytest.fixture
def victim(other_org) -> Owned:
    return seed_organization(other_org["organization_id"])


@pytest.fixture
def mine(org) -> Owned:
    # the caller owns rows too, so a filter that were ignored would show them
    return seed_organization(org["organization_id"])


def foreign_references(entity: Entity, victim: Owned) -> list[tuple[dict, str]]:
    """(body fragment naming a victim row, the field the 422 must name)."""
    cases = []
    for ref in entity.references:
        if ref.target == "*":  # activity -> any record: record_type + record_(public_)id
            cases.append(({"record_type": "contact", "record_id": str(victim.id("contact"))},
                          "record_id"))
            cases.append(({"record_type": "contact",
                           "record_public_id": victim.public_id("contact")}, "record_public_id"))
            continue
        cases.append(({ref.column: str(victim.id(ref.target))}, ref.column))
        cases.append(({ref.public_field: victim.public_id(ref.target)}, ref.public_field))
    if entity.name == "opportunity":
        for column, kind in (("pipeline_id", "pipeline"), ("pipeline_stage_id", "stage")):
            cases.append(({column: str(victim.id(kind))}, column))
            cases.append(({column: victim.public_id(kind)}, column))
    return cases


def test_bodies_referencing_another_tenants_rows_are_422(app, client, org, victim, mine):
    routes.require(app, *(f"{CRM}/{e.plural}" for e in ENTITIES))
    failures = []
    for entity in ENTITIES:
        url = f"{CRM}/{entity.plural}"
        own = client.post(url, headers=org["headers"],
                          json=base_body(entity, own_record(client, org)
                                         if entity.name == "activity" else None))
        assert own.status_code == 201, own.get_json()
        for fragment, field in foreign_references(entity, victim):
            for method, target, body in (("POST", url, base_body(entity) | fragment),
                                         ("PATCH", f"{url}/{own.json['id']}", fragment)):
                resp = client.open(target, method=method, headers=org["headers"], json=body)
                details = (resp.get_json(silent=True) or {}).get("error", {}).get("details") or {}
                if resp.status_code != 422 or field not in details:
                    failures.append(f"{method} {entity.plural} {fragment}: {resp.status_code} "
                                    f"{resp.get_data(as_text=True)[:200]}")
                elif victim.marker in resp.get_data(as_text=True):
                    failures.append(f"{method} {entity.plural} {fragment}: leaks victim data")
        # the refused requests created nothing and changed nothing
        listed = client.get(url, headers=org["headers"], query_string={"limit": 500}).json
        assert len(listed["items"]) == 2  # the seeded row and `own`
        assert client.get(f"{url}/{own.json['id']}", headers=org["headers"]).json == own.json
    assert failures == []


def foreign_filters(entity: Entity, victim: Owned) -> list[dict]:
    found = []
    for ref in entity.references:
        if ref.target == "*":
            found.append({"record_type": "contact", "record_id": str(victim.id("contact"))})
            found.append({"record_type": "contact",
                          "record_public_id": victim.public_id("contact")})
            continue
        found.append({ref.column: str(victim.id(ref.target))})
        found.append({ref.public_field: victim.public_id(ref.target)})
    if entity.name == "opportunity":
        for column, kind in (("pipeline_id", "pipeline"), ("pipeline_stage_id", "stage")):
            found += [{column: str(victim.id(kind))}, {column: victim.public_id(kind)}]
    found += [{"q": victim.marker}, {"external_id": victim.marker}]
    return found


def test_filters_with_another_tenants_ids_return_nothing(app, client, org, victim, mine):
    routes.require(app, f"{CRM}/change_events", *(f"{CRM}/{e.plural}" for e in ENTITIES))
    failures = []
    for entity in ENTITIES:
        for params in foreign_filters(entity, victim):
            for deleted in ("false", "true"):
                resp = client.get(f"{CRM}/{entity.plural}", headers=org["headers"],
                                  query_string=params | {"include_deleted": deleted})
                if resp.status_code != 200 or resp.json["items"] != []:
                    failures.append(f"{entity.plural} {params}: {resp.status_code} "
                                    f"{resp.get_data(as_text=True)[:200]}")
    for kind in ("account", "contact", "opportunity", "lead", "activity"):
        for value in (str(victim.id(kind)), victim.public_id(kind)):
            resp = client.get(f"{CRM}/change_events", headers=org["headers"],
                              query_string={"record_id": value})
            if resp.status_code != 200 or resp.json["items"] != []:
                failures.append(f"change_events record_id={value}: {resp.status_code}")
    assert failures == []
    # and the same filters do find the caller's own rows (the probes above were not vacuous)
    own = client.get(f"{CRM}/contacts", headers=org["headers"],
                     query_string={"account_id": str(mine.id("account"))})
    assert [r["id"] for r in own.json["items"]] == [str(mine.id("contact"))]
