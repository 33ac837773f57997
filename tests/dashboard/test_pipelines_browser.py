"""The Pipelines settings page in a real browser: create a pipeline, rename, reorder (keyboard),
add and delete stages (its opportunities moved to a picked stage), choose the default."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import browser_sign_in, screenshot, unlabelled_controls

pytestmark = pytest.mark.slow

CRM = "/api/v1/crm"


def _default(client, member) -> dict:
    items = client.get(f"{CRM}/pipelines", headers=member["headers"]).json["items"]
    return next(p for p in items if p["is_default"])


def _stage(page, name: str):
    return page.locator(f'li.stage-row[data-stage-name="{name}"]')


def _ready(page) -> None:
    page.locator("#pipeline-editor[data-ready=true]").wait_for()


def test_edit_pipelines_and_stages(page, member, client):
    default = _default(client, member)
    prospect = next(s for s in default["stages"] if s["name"] == "Prospect")
    for name in ("Alpha deal", "Beta deal"):
        resp = client.post(f"{CRM}/opportunities", headers=member["headers"],
                           json={"name": name, "pipeline_stage_id": prospect["id"]})
        assert resp.status_code == 201, resp.json
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location}")
            if m.type == "error" else None)

    browser_sign_in(page, member)
    page.click("nav >> text=Pipelines")
    _ready(page)
    assert unlabelled_controls(page) == []
    assert _stage(page, "Prospect").locator("[data-testid=stage-count]").inner_text() == \
        "2 opportunities"

    # rename a stage, then move it up with the keyboard
    row = _stage(page, "Qualification")
    row.get_by_label("Name of stage Qualification").fill("Discovery")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        row.get_by_role("button", name="Save").click()
    _stage(page, "Discovery").wait_for()
    up = page.get_by_role("button", name="Move Discovery up")
    up.focus()
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#stages li:nth-child(2)')?.dataset.stageName"
        " === 'Discovery'")
    # focus stays on the moved stage's button, so the user can keep pressing Enter
    page.wait_for_function(
        "() => document.activeElement?.getAttribute('aria-label') === 'Move Discovery up'")

    # add a stage and delete Prospect, moving its two opportunities there
    page.fill("#new-stage-name", "Demo")
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 201):
        page.click("#add-stage button[type=submit]")
    _stage(page, "Demo").wait_for()
    _stage(page, "Prospect").get_by_role("button", name="Delete Prospect").click()
    panel = _stage(page, "Prospect").locator(".confirm")
    panel.get_by_label("Move its opportunities to").select_option(label="Demo")
    screenshot(page, "pipelines-delete-stage")
    with page.expect_response(lambda r: r.request.method == "DELETE" and r.status == 204):
        panel.get_by_role("button", name="Confirm delete").click()
    _stage(page, "Prospect").wait_for(state="detached")
    assert _stage(page, "Demo").locator("[data-testid=stage-count]").inner_text() == \
        "2 opportunities"

    stages = client.get(f"{CRM}/pipelines/{default['id']}/stages",
                        headers=member["headers"]).json["items"]
    assert [s["name"] for s in stages] == ["Unassigned", "Discovery", "Proposal", "Negotiation",
                                           "Won", "Lost", "Demo"]
    assert [s["position"] for s in stages] == list(range(7))
    board = client.get(f"{CRM}/pipelines/{default['id']}/board",
                       headers=member["headers"]).json
    demo = next(c for c in board["columns"] if c["stage"]["name"] == "Demo")
    assert sorted(c["name"] for c in demo["items"]) == ["Alpha deal", "Beta deal"]

    # a new pipeline, made the default
    page.fill("#new-pipeline-name", "Renewals")
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 201):
        page.click("#new-pipeline button[type=submit]")
    page.locator("#pipeline-name").filter().wait_for()
    page.wait_for_function("() => document.getElementById('pipeline-name').value === 'Renewals'")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        page.click("#make-default")
    page.locator("#default-badge").wait_for()
    assert _default(client, member)["name"] == "Renewals"
    screenshot(page, "pipelines")

    # the old default can now be deleted: its opportunities go to the picked pipeline
    page.locator("#pipeline-select").select_option(label=default["name"])
    page.wait_for_function(
        "(n) => document.getElementById('pipeline-name').value === n", arg=default["name"])
    page.click("#delete-pipeline")
    picker = page.locator("#delete-pipeline-panel").get_by_label("Move its opportunities to")
    picker.select_option(label="Renewals (default)" if picker.locator(
        "option", has_text="(default)").count() else "Renewals")
    with page.expect_response(lambda r: r.request.method == "DELETE" and r.status == 204):
        page.locator("#delete-pipeline-panel").get_by_role("button",
                                                           name="Confirm delete").click()
    page.wait_for_function("() => document.getElementById('pipeline-name').value === 'Renewals'")
    items = client.get(f"{CRM}/pipelines", headers=member["headers"]).json["items"]
    assert [p["name"] for p in items] == ["Renewals"]

    # the change history lists the admin changes with links to this page
    page.goto("/app/changes?record_type=pipeline_stage")
    page.locator("#changes tbody tr", has_text="deleted").first.wait_for()

    # phone width: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/app/crm/settings/pipelines")
    _ready(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "pipelines-390px")
    assert errors == []
