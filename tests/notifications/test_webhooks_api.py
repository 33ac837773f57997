"""POST/GET/PATCH/DELETE /api/v1/crm/webhooks: the secret is shown once; URLs that resolve to
loopback, link-local, private or reserved addresses are refused unless the operator allows."""
from __future__ import annotations

import pytest

from tests.notifications.conftest import add_webhook

API = "/api/v1/crm/webhooks"


def test_create_shows_the_secret_once_then_never(client, org, allow_private, receiver):
    created = add_webhook(client, org, receiver.url, ["job.succeeded"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["job.succeeded"] and created["active"] is True
    shown = client.get(f"{API}/{created['id']}", headers=org["headers"])
    assert shown.status_code == 200 and "secret" not in shown.json
    listed = client.get(API, headers=org["headers"]).json
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert created["secret"] not in client.get(API, headers=org["headers"]).get_data(True)


def test_patch_and_delete(client, org, allow_private, receiver):
    created = add_webhook(client, org, receiver.url)
    resp = client.patch(f"{API}/{created['id']}", headers=org["headers"],
                        json={"events": ["job.failed"], "active": False})
    assert resp.status_code == 200
    assert resp.json["events"] == ["job.failed"] and resp.json["active"] is False
    bad = client.patch(f"{API}/{created['id']}", headers=org["headers"],
                       json={"events": ["job.exploded"], "secret": "x"})
    assert bad.status_code == 422 and {"events", "secret"} <= set(bad.json["error"]["details"])
    assert client.delete(f"{API}/{created['id']}", headers=org["headers"]).status_code == 204
    assert client.get(f"{API}/{created['id']}", headers=org["headers"]).status_code == 404


def test_another_tenants_webhook_is_a_404(client, org, other_org, allow_private, receiver):
    theirs = add_webhook(client, other_org, receiver.url)
    for method in ("GET", "PATCH", "DELETE"):
        resp = client.open(f"{API}/{theirs['id']}", method=method, headers=org["headers"],
                           json={"active": False} if method == "PATCH" else None)
        assert resp.status_code == 404, method
    assert client.get(f"{API}/{theirs['id']}/deliveries",
                      headers=org["headers"]).status_code == 404


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x", "http://10.1.2.3/x",
    "http://192.168.0.10/x", "http://172.16.5.4/x", "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/x", "http://[::ffff:127.0.0.1]/x", "http://[::ffff:10.0.0.1]/x",
    "http://0.0.0.0/x", "http://224.0.0.1/x", "http://100.64.0.1/x", "http://[fc00::1]/x",
    "http://240.0.0.1/x",
])
def test_private_addresses_are_refused_without_the_setting(client, org, url):
    resp = client.post(API, headers=org["headers"], json={"url": url, "events": ["job.failed"]})
    assert resp.status_code == 422, url
    assert "url" in resp.json["error"]["details"]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://user:pw@example.com/x",
                                 "not a url", "https://", "http://no-such-host.invalid/x"])
def test_malformed_or_unresolvable_urls_are_refused(client, org, allow_private, url):
    resp = client.post(API, headers=org["headers"], json={"url": url, "events": ["job.failed"]})
    assert resp.status_code == 422, url


def test_events_must_be_known(client, org, allow_private, receiver):
    for events in ([], ["job.progressed"], "job.failed", None):
        resp = client.post(API, headers=org["headers"], json={"url": receiver.url,
                                                              "events": events})
        assert resp.status_code == 422, events
