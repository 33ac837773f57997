"""`drippulse jobs revert`: a real server and worker undo an import from the terminal."""
from __future__ import annotations

import json

from drippulse import cli
from tests.bundles.helpers import bundle, import_and_wait, rows


def test_jobs_revert_previews_then_undoes_an_import(api_server, client, org, worker, capsys):
    job = import_and_wait(client, org, bundle(accounts=[{"public_id": "acct_x", "name": "X"}]))
    flags = ["--url", api_server, "--token", org["api_key"]]
    assert cli.main(["jobs", "revert", job["id"], "--dry-run", "--wait", "--json", *flags]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["kind"] == "revert" and preview["dry_run"] and preview["status"] == "succeeded"
    assert preview["progress"]["accounts"]["deleted"] == 1
    assert rows(org, "accounts")[0]["deleted_at"] is None
    assert cli.main(["jobs", "revert", job["id"], "--wait", *flags]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert rows(org, "accounts")[0]["deleted_at"] is not None
    assert cli.main(["jobs", "revert", job["id"], *flags]) == 1  # already reverted: 409
    assert "already reverted" in capsys.readouterr().err
