"""`drippulse webhooks`: create (the secret shown once), list, deliveries and delete against a
real server."""
from __future__ import annotations

import json

from drippulse import cli


def test_webhooks_from_the_terminal(api_server, org, capsys):
    flags = ["--url", api_server, "--token", org["api_key"]]
    url = "https://93.184.216.34/drippulse-hook"  # a public address: no lookup needed
    assert cli.main(["webhooks", "create", url, "--events", "job.succeeded", "job.failed",
                     "--json", *flags]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["url"] == url and made["secret"]
    assert cli.main(["webhooks", "list", "--json", *flags]) == 0
    listed = json.loads(capsys.readouterr().out)
    items = listed["items"] if isinstance(listed, dict) else listed
    assert [h["id"] for h in items] == [made["id"]]
    assert all("secret" not in h for h in items), "the secret is shown once"
    assert cli.main(["webhooks", "deliveries", made["id"], "--json", *flags]) == 0
    capsys.readouterr()
    assert cli.main(["webhooks", "delete", made["id"], *flags]) == 0
    capsys.readouterr()
    assert cli.main(["webhooks", "list", "--json", *flags]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["items"] if isinstance(listed, dict) else listed) == []
    refused = cli.main(["webhooks", "create", "http://127.0.0.1:9/x", *flags])
    assert refused == 1 and "private" in capsys.readouterr().err.lower()
