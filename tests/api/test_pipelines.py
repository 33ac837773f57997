"""Pipelines, stages, the Kanban board and moving cards between columns."""
from __future__ import annotations


def default_pipeline(api) -> dict:
    return next(p for p in api.get("/pipelines").json["items"] if p["is_default"])


def column(board: dict, name: str) -> dict:
    return next(c for c in board["columns"] if c["stage"]["name"] == name)


def test_default_pipeline_and_new_pipeline(api):
    pipe = default_pipeline(api)
    assert [s["name"] for s in pipe["stages"]][:2] == ["Unassigned", "Prospect"]
    assert api.get(f"/pipelines/{pipe['public_id']}").json["id"] == pipe["id"]

    created = api.post("/pipelines", {"name": "Renewals", "stages": [
        {"name": "Due"}, {"name": "Renewed", "kind": "won"}]})
    assert created.status_code == 201, created.json
    assert [(s["name"], s["kind"], s["position"]) for s in created.json["stages"]] == [
        ("Due", "open", 0), ("Renewed", "won", 1)]
    added = api.post(f"/pipelines/{created.json['id']}/stages",
                     {"name": "Chasing", "position": 1})
    assert added.status_code == 201 and added.json["position"] == 1
    names = [s["name"] for s in api.get(f"/pipelines/{created.json['id']}/stages").json["items"]]
    assert names == ["Due", "Chasing", "Renewed"]
    assert api.post("/pipelines", {"name": ""}).status_code == 422
    assert api.post("/pipelines", {"name": "X", "colour": 1}).status_code == 422
    assert api.post(f"/pipelines/{created.json['id']}/stages",
                    {"name": "Bad", "kind": "maybe"}).status_code == 422


def test_stage_rules_for_opportunities(api):
    pipe = default_pipeline(api)
    stage = {s["name"]: s for s in pipe["stages"]}
    other = api.post("/pipelines", {"name": "Other"}).json

    won = api.create("opportunities", {"name": "W", "pipeline_stage_id": stage["Won"]["id"]})
    assert won["status"] == "won" and won["pipeline_id"] == pipe["id"]
    lost = api.create("opportunities", {"name": "L", "status": "lost"})
    assert lost["pipeline_stage_name"] == "Lost"

    resp = api.post("/opportunities", {"name": "X", "pipeline_id": other["id"],
                                       "pipeline_stage_id": stage["Prospect"]["id"]})
    assert resp.status_code == 422 and "pipeline_stage_id" in resp.json["error"]["details"]
    resp = api.post("/opportunities", {"name": "X", "status": "won",
                                       "pipeline_stage_id": stage["Prospect"]["id"]})
    assert resp.status_code == 422 and "status" in resp.json["error"]["details"]

    moved = api.patch(f"/opportunities/{won['id']}",
                      {"pipeline_stage_id": stage["Proposal"]["public_id"]})
    assert moved.json["status"] == "open" and moved.json["pipeline_stage_name"] == "Proposal"
    closed = api.patch(f"/opportunities/{won['id']}", {"status": "lost"})
    assert closed.json["pipeline_stage_name"] == "Lost"
    into_other = api.patch(f"/opportunities/{won['id']}", {"pipeline_id": other["public_id"]})
    assert into_other.json["pipeline_id"] == other["id"]
    assert into_other.json["pipeline_stage_id"] == other["stages"][0]["id"]


def test_board_columns_totals_and_moves(api):
    pipe = default_pipeline(api)
    stage = {s["name"]: s for s in pipe["stages"]}
    cards = [api.create("opportunities", {"name": f"C{i}", "amount": "100.25",
                                          "currency": "USD", "stage_position": i})
             for i in range(4)]
    api.create("opportunities", {"name": "Euro", "amount": "10", "currency": "EUR",
                                 "pipeline_stage_id": stage["Prospect"]["id"]})

    board = api.get(f"/pipelines/{pipe['id']}/board").json
    assert [c["stage"]["name"] for c in board["columns"]] == [s["name"] for s in pipe["stages"]]
    unassigned = column(board, "Unassigned")
    assert [c["name"] for c in unassigned["items"]] == ["C0", "C1", "C2", "C3"]
    assert unassigned["count"] == 4 and unassigned["amount_total"] == "401.00"
    assert unassigned["amount_by_currency"] == {"USD": "401.00"}

    # move C3 to the top of its column: positions stay dense and ordered
    resp = api.patch(f"/opportunities/{cards[3]['id']}", {"stage_position": 0})
    assert resp.status_code == 200 and resp.json["stage_position"] == 0
    board = api.get(f"/pipelines/{pipe['id']}/board").json
    items = column(board, "Unassigned")["items"]
    assert [(c["name"], c["stage_position"]) for c in items] == [
        ("C3", 0), ("C0", 1), ("C1", 2), ("C2", 3)]

    # move C0 into Prospect at position 0: both columns renumbered
    api.patch(f"/opportunities/{cards[0]['public_id']}",
              {"pipeline_stage_id": stage["Prospect"]["id"], "stage_position": 0})
    board = api.get(f"/pipelines/{pipe['id']}/board").json
    assert [(c["name"], c["stage_position"]) for c in column(board, "Unassigned")["items"]] == [
        ("C3", 0), ("C1", 1), ("C2", 2)]
    prospect = column(board, "Prospect")
    assert [(c["name"], c["stage_position"]) for c in prospect["items"]][0] == ("C0", 0)
    assert prospect["count"] == 2 and prospect["amount_by_currency"] == {
        "USD": "100.25", "EUR": "10.00"}

    # a position past the end is clamped; deleting closes the gap
    api.patch(f"/opportunities/{cards[3]['id']}", {"stage_position": 99})
    api.delete(f"/opportunities/{cards[1]['id']}")
    board = api.get(f"/pipelines/{pipe['id']}/board").json
    assert [(c["name"], c["stage_position"]) for c in column(board, "Unassigned")["items"]] == [
        ("C2", 0), ("C3", 1)]


def test_board_pages_one_column(api):
    pipe = default_pipeline(api)
    names = [api.create("opportunities", {"name": f"N{i}"})["name"] for i in range(5)]
    board = api.get(f"/pipelines/{pipe['id']}/board", limit=2).json
    first = column(board, "Unassigned")
    seen = [c["name"] for c in first["items"]]
    cursor = first["next"]
    stage_id = first["stage"]["id"]
    while cursor:
        page = api.get(f"/pipelines/{pipe['id']}/board", limit=2, stage_id=stage_id,
                       cursor=cursor).json
        assert len(page["columns"]) == 1
        seen += [c["name"] for c in page["columns"][0]["items"]]
        cursor = page["columns"][0]["next"]
    assert seen == names
    assert api.get(f"/pipelines/{pipe['id']}/board", cursor=first["next"]).status_code == 422
    assert api.get(f"/pipelines/{pipe['id']}/board", stage_id="nope").status_code == 422
