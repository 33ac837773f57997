"""Pipeline admin: rename, choose the default, reorder, re-kind and delete stages and pipelines;
opportunities follow, and every change is in the change history."""
from __future__ import annotations


def default_pipeline(api) -> dict:
    return next(p for p in api.get("/pipelines").json["items"] if p["is_default"])


def stage_names(api, pipeline_id: str) -> list[tuple[str, int]]:
    return [(s["name"], s["position"])
            for s in api.get(f"/pipelines/{pipeline_id}/stages").json["items"]]


def events(api, record_type: str, record_id: str) -> list[dict]:
    resp = api.get("/change_events", record_type=record_type, record_id=record_id)
    assert resp.status_code == 200, resp.json
    return resp.json["items"]


def test_rename_and_switch_the_default(api):
    first = default_pipeline(api)
    second = api.create("pipelines", {"name": "Renewals"})
    assert events(api, "pipeline", second["public_id"])[0]["event_type"] == "created"

    resp = api.patch(f"/pipelines/{second['public_id']}", {"name": "Renewals 2025",
                                                           "is_default": True})
    assert resp.status_code == 200, resp.json
    assert resp.json["name"] == "Renewals 2025" and resp.json["is_default"] is True
    assert [p["id"] for p in api.get("/pipelines").json["items"] if p["is_default"]] == [
        second["id"]]
    # each pipeline that changed has its event, with the actor
    latest = events(api, "pipeline", second["id"])[0]
    assert latest["event_type"] == "updated" and latest["actor"].startswith("api_key:")
    assert latest["changes"] == {"name": ["Renewals", "Renewals 2025"],
                                 "is_default": [False, True]}
    assert events(api, "pipeline", first["id"])[0]["changes"] == {"is_default": [True, False]}

    # an organization always has a default: un-setting it is refused, nothing else is
    refused = api.patch(f"/pipelines/{second['id']}", {"is_default": False})
    assert refused.status_code == 422 and "is_default" in refused.json["error"]["details"]
    assert api.patch(f"/pipelines/{first['id']}", {"is_default": False}).status_code == 200
    assert api.patch(f"/pipelines/{first['id']}", {"name": ""}).status_code == 422
    assert api.patch(f"/pipelines/{first['id']}", {"stages": []}).status_code == 422
    # an unchanged body writes no event
    before = len(events(api, "pipeline", first["id"]))
    assert api.patch(f"/pipelines/{first['id']}", {"name": first["name"]}).status_code == 200
    assert len(events(api, "pipeline", first["id"])) == before


def test_reorder_rename_and_rekind_a_stage(api):
    pipe = api.create("pipelines", {"name": "P", "stages": [
        {"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D", "kind": "won"}]})
    stage = {s["name"]: s for s in pipe["stages"]}
    url = f"/pipelines/{pipe['id']}/stages"

    moved = api.patch(f"{url}/{stage['D']['public_id']}", {"position": 0, "name": "Done"})
    assert moved.status_code == 200, moved.json
    assert (moved.json["name"], moved.json["position"]) == ("Done", 0)
    assert stage_names(api, pipe["id"]) == [("Done", 0), ("A", 1), ("B", 2), ("C", 3)]
    api.patch(f"{url}/{stage['A']['id']}", {"position": 99})  # clamped to the end
    assert stage_names(api, pipe["id"]) == [("Done", 0), ("B", 1), ("C", 2), ("A", 3)]
    change = events(api, "pipeline_stage", stage["D"]["id"])[0]
    assert change["changes"] == {"name": ["D", "Done"], "position": [3, 0]}

    # a new kind: the status of the stage's opportunities follows it
    opp = api.create("opportunities", {"name": "Deal", "pipeline_stage_id": stage["B"]["id"]})
    assert opp["status"] == "open"
    rekind = api.patch(f"{url}/{stage['B']['id']}", {"kind": "lost"})
    assert rekind.status_code == 200 and rekind.json["kind"] == "lost"
    assert api.get(f"/opportunities/{opp['id']}").json["status"] == "lost"
    assert events(api, "opportunity", opp["id"])[0]["changes"] == {"status": ["open", "lost"]}

    assert api.patch(f"{url}/{stage['B']['id']}", {"kind": "maybe"}).status_code == 422
    assert api.patch(f"{url}/{stage['B']['id']}", {"position": -1}).status_code == 422
    assert api.patch(f"{url}/{stage['B']['id']}", {"pipeline_id": "x"}).status_code == 422
    # a stage of another pipeline is not found under this one
    other = default_pipeline(api)["stages"][0]
    assert api.patch(f"{url}/{other['id']}", {"name": "X"}).status_code == 404


def test_delete_a_stage_moves_its_opportunities(api):
    pipe = api.create("pipelines", {"name": "P", "stages": [
        {"name": "A"}, {"name": "B"}, {"name": "Won", "kind": "won"}]})
    stage = {s["name"]: s for s in pipe["stages"]}
    url = f"/pipelines/{pipe['id']}/stages"
    in_a = [api.create("opportunities", {"name": f"A{i}", "pipeline_stage_id": stage["A"]["id"],
                                         "stage_position": i})["id"] for i in range(2)]
    api.create("opportunities", {"name": "Won0", "pipeline_stage_id": stage["Won"]["id"]})

    # not empty: where its opportunities go must be said
    refused = api.delete(f"{url}/{stage['A']['id']}")
    assert refused.status_code == 409 and "move_to" in refused.json["error"]["details"]
    assert api.delete(f"{url}/{stage['A']['id']}?move_to={stage['A']['id']}").status_code == 422
    foreign = default_pipeline(api)["stages"][0]["id"]
    assert api.delete(f"{url}/{stage['A']['id']}?move_to={foreign}").status_code == 422
    assert api.delete(f"{url}/{stage['A']['id']}?moveto=x").status_code == 422

    resp = api.delete(f"{url}/{stage['A']['public_id']}?move_to={stage['Won']['public_id']}")
    assert resp.status_code == 204
    assert stage_names(api, pipe["id"]) == [("B", 0), ("Won", 1)]
    board = api.get(f"/pipelines/{pipe['id']}/board").json
    won = next(c for c in board["columns"] if c["stage"]["name"] == "Won")
    # appended after the column's own card, in their old order, with the column's status
    assert [(c["name"], c["stage_position"], c["status"]) for c in won["items"]] == [
        ("Won0", 0, "won"), ("A0", 1, "won"), ("A1", 2, "won")]
    change = events(api, "opportunity", in_a[1])[0]["changes"]
    assert change["pipeline_stage_name"] == ["A", "Won"] and change["status"] == ["open", "won"]
    assert events(api, "pipeline_stage", stage["A"]["id"])[0]["event_type"] == "deleted"
    assert api.patch(f"{url}/{stage['A']['id']}", {"name": "back"}).status_code == 404

    # an empty stage goes without move_to; the last stage never goes
    assert api.delete(f"{url}/{stage['B']['id']}").status_code == 204
    last = api.delete(f"{url}/{stage['Won']['id']}")
    assert last.status_code == 409 and last.json["error"]["code"] == "last_stage"


def test_delete_a_pipeline_moves_its_opportunities_by_kind(api):
    default = default_pipeline(api)
    refused = api.delete(f"/pipelines/{default['id']}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "default_pipeline"

    pipe = api.create("pipelines", {"name": "Old", "stages": [
        {"name": "Talking"}, {"name": "Signed", "kind": "won"}]})
    talking = api.create("opportunities", {"name": "T", "pipeline_id": pipe["id"]})
    signed = api.create("opportunities", {"name": "S", "pipeline_id": pipe["id"],
                                          "status": "won"})
    assert api.delete(f"/pipelines/{pipe['id']}").status_code == 409
    assert api.delete(f"/pipelines/{pipe['id']}?move_to={pipe['id']}").status_code == 422

    assert api.delete(f"/pipelines/{pipe['id']}?move_to={default['public_id']}").status_code == 204
    assert api.get(f"/pipelines/{pipe['id']}").status_code == 404
    assert pipe["id"] not in [p["id"] for p in api.get("/pipelines").json["items"]]
    t = api.get(f"/opportunities/{talking['id']}").json
    s = api.get(f"/opportunities/{signed['id']}").json
    # each lands on the first stage of its kind in the target pipeline
    assert (t["pipeline_id"], t["pipeline_stage_name"], t["status"]) == (
        default["id"], "Unassigned", "open")
    assert (s["pipeline_stage_name"], s["status"]) == ("Won", "won")
    assert events(api, "pipeline", pipe["id"])[0]["event_type"] == "deleted"
    assert events(api, "pipeline_stage", pipe["stages"][1]["id"])[0]["event_type"] == "deleted"

    # an empty pipeline needs no move_to
    empty = api.create("pipelines", {"name": "Empty"})
    assert api.delete(f"/pipelines/{empty['id']}").status_code == 204


def test_pipeline_admin_is_per_organization(api, other_api):
    mine = api.create("pipelines", {"name": "Mine"})
    stage = mine["stages"][0]["id"]
    for resp in (other_api.patch(f"/pipelines/{mine['id']}", {"name": "x"}),
                 other_api.delete(f"/pipelines/{mine['id']}"),
                 other_api.patch(f"/pipelines/{mine['id']}/stages/{stage}", {"name": "x"}),
                 other_api.delete(f"/pipelines/{mine['id']}/stages/{stage}")):
        assert resp.status_code == 404
    # another organization's pipeline is no target either
    theirs = default_pipeline(other_api)
    assert api.delete(f"/pipelines/{mine['id']}?move_to={theirs['id']}").status_code == 422
    assert api.get(f"/pipelines/{mine['id']}").json["name"] == "Mine"
