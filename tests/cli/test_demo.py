"""`drippulse demo`, `login` and `whoami` against a real API server."""
from __future__ import annotations

import json

import sqlalchemy as sa

from drippulse import cli
from shared import db
from tests.conftest import replace_settings


def test_demo_creates_a_sample_org_and_saves_its_key(api_server, settings, fresh_settings,
                                                     tmp_path, capsys):
    replace_settings(settings, data_dir=tmp_path)
    assert cli.main(["demo", "--json"]) == 0
    demo = json.loads(capsys.readouterr().out)
    assert demo["api_key"].startswith("dp_") and demo["admin_email"] and demo["admin_password"]
    assert demo["records"] == {"accounts": 5, "contacts": 12, "opportunities": 10, "leads": 6,
                               "activities": 15}
    assert (tmp_path / "cli-token").read_text().split()[0] == demo["api_key"]
    assert (tmp_path / "cli-token").stat().st_mode & 0o077 == 0, "the key file is private"

    with db.tenant_transaction(demo["organization_id"]) as conn:
        stages_used = conn.execute(sa.text(
            "SELECT count(DISTINCT pipeline_stage_id) FROM crm.opportunities "
            "WHERE organization_id = :org"), {"org": demo["organization_id"]}).scalar()
        events = conn.execute(sa.text(
            "SELECT count(*) FROM crm.change_events WHERE organization_id = :org"),
            {"org": demo["organization_id"]}).scalar()
    assert stages_used == 7, "opportunities spread across every default stage"
    assert events == sum(demo["records"].values())

    # with no --token, client commands use the saved key
    assert cli.main(["whoami", "--json", "--url", api_server]) == 0
    me = json.loads(capsys.readouterr().out)
    assert me["organization_id"] == demo["organization_id"]


def test_login_refuses_a_bad_key_and_saves_a_good_one(api_server, org, settings, fresh_settings,
                                                      tmp_path, capsys):
    replace_settings(settings, data_dir=tmp_path)
    assert cli.main(["login", "--url", api_server, "--token", "dp_nope_nope"]) == 1
    assert "unauthorized" in capsys.readouterr().err
    assert not (tmp_path / "cli-token").exists()
    assert cli.main(["login", "--url", api_server, "--token", org["api_key"]]) == 0
    assert (tmp_path / "cli-token").read_text().split() == [org["api_key"], api_server]
    capsys.readouterr()
    assert cli.main(["whoami"]) == 0
    assert org["organization_id"] in capsys.readouterr().out


def test_missing_token_says_how_to_get_one(settings, fresh_settings, tmp_path, capsys):
    replace_settings(settings, data_dir=tmp_path)
    assert cli.main(["jobs", "list", "--url", "http://127.0.0.1:9"]) == 1
    assert "drippulse demo" in capsys.readouterr().err
