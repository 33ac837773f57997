"""GET /metrics is closed by default (issue 19, finding B): it used to answer anyone when
DRIPPULSE_METRICS_TOKEN was unset. Now, without a token, only a direct loopback client outside
production; with one, only `Authorization: Bearer <token>`."""
from __future__ import annotations

from tests.conftest import replace_settings

REMOTE = {"REMOTE_ADDR": "10.0.0.5"}


def test_production_without_a_token_is_not_configured(client, fresh_settings):
    replace_settings(fresh_settings, env="Production", metrics_token=None)
    for environ in ({"REMOTE_ADDR": "127.0.0.1"}, REMOTE):
        resp = client.get("/metrics", environ_base=environ)
        assert resp.status_code == 404
        assert resp.json["error"]["code"] == "not_configured"
        assert "DRIPPULSE_METRICS_TOKEN" in resp.json["error"]["message"]


def test_without_a_token_only_a_direct_loopback_client_is_answered(client, fresh_settings):
    replace_settings(fresh_settings, env="development", metrics_token=None)
    refused = [
        ({"REMOTE_ADDR": "10.0.0.5"}, {}),
        ({"REMOTE_ADDR": "192.168.1.20"}, {}),
        ({"REMOTE_ADDR": "::ffff:10.0.0.5"}, {}),
        # relayed by a proxy on this host: the loopback peer is the proxy, not the client
        ({"REMOTE_ADDR": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.9"}),
        ({"REMOTE_ADDR": "127.0.0.1"}, {"Forwarded": "for=203.0.113.9"}),
    ]
    for environ, headers in refused:
        resp = client.get("/metrics", environ_base=environ, headers=headers)
        assert resp.status_code == 403, (environ, headers)
        assert resp.json["error"]["code"] == "forbidden"
        assert "drippulse_http_requests_total" not in resp.get_data(as_text=True)
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        resp = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
        assert resp.status_code == 200, address
        assert "drippulse_http_requests_total" in resp.get_data(as_text=True)


def test_a_token_opens_metrics_to_a_remote_scraper_and_only_to_it(client, fresh_settings):
    replace_settings(fresh_settings, env="production", metrics_token="scrape-token-7")
    ok = client.get("/metrics", environ_base=REMOTE,
                    headers={"Authorization": "Bearer scrape-token-7"})
    assert ok.status_code == 200
    assert ok.content_type.startswith("text/plain")
    assert "drippulse_http_requests_total" in ok.get_data(as_text=True)
    for headers in ({}, {"Authorization": "Bearer scrape-token-8"},
                    {"Authorization": "scrape-token-7"},
                    {"Authorization": "Bearer scrape-token-7é"}):  # non-ASCII: 401, not 500
        for environ in (REMOTE, {"REMOTE_ADDR": "127.0.0.1"}):  # loopback needs it too
            resp = client.get("/metrics", environ_base=environ, headers=headers)
            assert resp.status_code == 401, (headers, environ)
            assert resp.json["error"]["code"] == "unauthorized"
    # the token is what opened it: without it, production refuses
    replace_settings(fresh_settings, env="production", metrics_token=None)
    assert client.get("/metrics", environ_base=REMOTE).status_code == 404


def test_behind_a_declared_proxy_a_token_is_required_outside_production_too(client,
                                                                            fresh_settings):
    # a proxy on this host that adds no X-Forwarded-For makes every client look like 127.0.0.1:
    # with DRIPPULSE_TRUSTED_PROXIES set, loopback proves nothing, so no token means not served
    replace_settings(fresh_settings, env="development", metrics_token=None, trusted_proxies=1)
    for address in ("127.0.0.1", "::1", "10.0.0.5"):
        resp = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
        assert resp.status_code == 404, address
        assert resp.json["error"]["code"] == "not_configured"
        assert "DRIPPULSE_METRICS_TOKEN" in resp.json["error"]["message"]
        assert "drippulse_http_requests_total" not in resp.get_data(as_text=True)
    replace_settings(fresh_settings, env="development", metrics_token="scrape-token-9",
                     trusted_proxies=1)
    assert client.get("/metrics", environ_base=REMOTE,
                      headers={"Authorization": "Bearer scrape-token-9"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
