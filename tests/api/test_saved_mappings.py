"""Saved CSV mappings (/api/v1/crm/mappings): one per organization and header set, found again
whatever the order, case or surrounding spaces of the headers, checked like the CSV import
checks a mapping, and invisible to other organizations."""
from __future__ import annotations

import json

BASE = "/api/v1/crm/mappings"
HEADERS = ["Company", "Sector", "Employees", "Region", "Id"]


def _mapping(**entry) -> dict:
    file_entry = {"file": "accounts.csv", "entity": "accounts", "id_column": "Id",
                  "unmapped": "ignore",
                  "columns": {"Company": "name", "Sector": "industry",
                              "Employees": "employee_count"}} | entry
    return {"version": 1, "external_system": "legacy", "files": [file_entry]}


def _put(client, org, body):
    return client.put(BASE, headers=org["headers"], json=body)


def _find(client, org, headers):
    return client.get(BASE, headers=org["headers"],
                      query_string={"headers": json.dumps(headers)})


def _found(client, org, headers) -> list:
    """The items of a lookup by headers: always a 200 list, one item or none."""
    resp = _find(client, org, headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["next"] is None
    return resp.json["items"]


def test_saved_mapping_is_found_for_the_same_headers_in_any_order_and_case(client, org):
    created = _put(client, org, {"headers": HEADERS, "mapping": _mapping()})
    assert created.status_code == 201, created.json
    saved = created.json
    assert saved["name"] == "accounts.csv"  # the entry's file name when none is given
    assert saved["headers"] == HEADERS
    assert saved["mapping"] == _mapping()
    assert saved["updated_by"].startswith("api_key:")

    shuffled = [" id", "REGION", "employees", "sector ", "Company"]
    found = _find(client, org, shuffled)
    assert found.status_code == 200, found.json
    assert found.json == {"items": [saved], "next": None}  # the same item JSON as the list
    assert found.json["items"][0]["mapping"]["files"][0]["columns"]["Sector"] == "industry"
    # repeated parameters name the same header set
    repeated = client.get(BASE + "?" + "&".join(f"headers={h}" for h in shuffled),
                          headers=org["headers"])
    assert repeated.status_code == 200
    assert [m["id"] for m in repeated.json["items"]] == [saved["id"]]

    # a subset or a superset of the headers is another file: nothing saved for it
    assert _found(client, org, HEADERS[:-1]) == []
    assert _found(client, org, [*HEADERS, "Owner"]) == []


def test_saving_the_same_header_set_again_replaces_it(client, org):
    first = _put(client, org, {"headers": HEADERS, "name": "CRM accounts", "mapping": _mapping()})
    assert first.status_code == 201
    again = _put(client, org, {"headers": [h.upper() for h in reversed(HEADERS)],
                               "mapping": _mapping(columns={"Company": "name",
                                                           "Region": "custom_fields.region"})})
    assert again.status_code == 200, again.json
    assert again.json["id"] == first.json["id"]
    assert again.json["name"] == "CRM accounts"  # kept: this save named none
    assert again.json["mapping"]["files"][0]["columns"] == {"Company": "name",
                                                            "Region": "custom_fields.region"}
    listed = client.get(BASE, headers=org["headers"]).json
    assert [m["id"] for m in listed["items"]] == [first.json["id"]]
    assert [m["mapping"] for m in _found(client, org, HEADERS)] == [again.json["mapping"]]


def test_list_pages_newest_first(client, org):
    ids = []
    for n in range(3):
        resp = _put(client, org, {"headers": [f"Name {n}"],
                                  "mapping": _mapping(id_column=None, columns={
                                      f"Name {n}": "name"})})
        assert resp.status_code == 201, resp.json
        ids.append(resp.json["id"])
    first = client.get(BASE, headers=org["headers"], query_string={"limit": 2}).json
    assert [m["id"] for m in first["items"]] == [ids[2], ids[1]]
    assert first["next"]
    rest = client.get(BASE, headers=org["headers"],
                      query_string={"limit": 2, "cursor": first["next"]}).json
    assert [m["id"] for m in rest["items"]] == [ids[0]] and rest["next"] is None
    bad = client.get(BASE, headers=org["headers"], query_string={"sort": "name"})
    assert bad.status_code == 422 and "sort" in bad.json["error"]["details"]


def test_delete_removes_it(client, org):
    saved = _put(client, org, {"headers": HEADERS, "mapping": _mapping()}).json
    assert client.delete(f"{BASE}/{saved['id']}", headers=org["headers"]).status_code == 204
    assert _found(client, org, HEADERS) == []
    assert client.delete(f"{BASE}/{saved['id']}", headers=org["headers"]).status_code == 404
    assert client.delete(f"{BASE}/not-a-uuid", headers=org["headers"]).status_code == 404


def test_another_organization_cannot_see_or_delete_it(client, org, other_org):
    saved = _put(client, org, {"headers": HEADERS, "mapping": _mapping()}).json

    assert _found(client, other_org, HEADERS) == []
    assert client.get(BASE, headers=other_org["headers"]).json == {"items": [], "next": None}
    gone = client.delete(f"{BASE}/{saved['id']}", headers=other_org["headers"])
    assert gone.status_code == 404
    # the other organization saves its own mapping for the same headers: A's is untouched
    theirs = _put(client, other_org, {"headers": HEADERS, "mapping": _mapping(
        columns={"Company": "name"})})
    assert theirs.status_code == 201 and theirs.json["id"] != saved["id"]
    mine = _found(client, org, HEADERS)
    assert [(m["id"], m["mapping"]) for m in mine] == [(saved["id"], _mapping())]


def test_an_invalid_mapping_is_a_422_listing_each_problem_with_its_path(client, org):
    resp = _put(client, org, {"headers": HEADERS, "mapping": _mapping(
        entity="acounts", id_column="Key")})
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["code"] == "invalid_mapping"
    assert [p["path"] for p in error["details"]["problems"]] == ["files[0].entity"]

    resp = _put(client, org, {"headers": HEADERS, "mapping": _mapping(
        columns={"Company": "name", "Sector": "sector"})})
    assert resp.status_code == 422
    problems = resp.json["error"]["details"]["problems"]
    assert [p["path"] for p in problems] == ["files[0].columns.Sector"]
    assert "sector" in problems[0]["message"]

    # columns the file does not have, named anywhere in the entry
    resp = _put(client, org, {"headers": HEADERS, "mapping": _mapping(
        id_column="Key", columns={"Company": "name", "Owner": "custom_fields.owner"})})
    assert resp.status_code == 422
    problems = {p["path"]: p["message"] for p in resp.json["error"]["details"]["problems"]}
    assert set(problems) == {"files[0].id_column", "files[0].columns.Owner"}
    assert "not among the headers" in problems["files[0].id_column"]
    assert "not among the headers" in problems["files[0].columns.Owner"]

    two_files = _mapping()
    two_files["files"].append({**two_files["files"][0], "file": "more.csv"})
    resp = _put(client, org, {"headers": HEADERS, "mapping": two_files})
    assert resp.status_code == 422
    assert [p["path"] for p in resp.json["error"]["details"]["problems"]] == ["files"]

    resp = _put(client, org, {"headers": HEADERS, "mapping": {"version": 2, "files": []}})
    assert {p["path"] for p in resp.json["error"]["details"]["problems"]} == {"version", "files"}
    # nothing of it was saved
    assert _found(client, org, HEADERS) == []


def test_a_body_without_headers_or_with_unknown_keys_is_a_422(client, org):
    resp = _put(client, org, {"mapping": _mapping(), "colour": "red"})
    assert resp.status_code == 422
    details = resp.json["error"]["details"]
    assert set(details) == {"headers", "colour"}
    resp = _put(client, org, {"headers": [], "mapping": _mapping()})
    assert resp.status_code == 422 and "headers" in resp.json["error"]["details"]
    resp = _put(client, org, {"headers": ["Company\x00"], "mapping": _mapping()})
    assert resp.status_code == 422 and "headers" in resp.json["error"]["details"]
    bad_query = client.get(BASE, headers=org["headers"], query_string={"headers": "[1, 2]"})
    assert bad_query.status_code == 422 and "headers" in bad_query.json["error"]["details"]


def test_a_mapping_cell_postgres_cannot_store_is_a_422_not_a_500(client, org):
    resp = _put(client, org, {"headers": HEADERS, "mapping": _mapping(
        constants={"industry": "Soft\x00ware"})})
    assert resp.status_code == 422
    assert resp.json["error"]["details"]["problems"][0]["path"] == \
        "files[0].constants.industry"
