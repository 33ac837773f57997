"""Input Postgres cannot store or Python cannot convert answers 4xx JSON, never 500."""
from __future__ import annotations


def test_nul_bytes_and_out_of_range_values_are_refused(api):
    cases = [
        (api.post("/accounts", {"name": "a", "custom_fields": {"x": "a\u0000b"}}), 422),
        (api.post("/accounts", {"name": "a", "custom_fields": {"k\u0000": 1}}), 422),
        (api.post("/accounts", {"name": "a\u0000"}), 422),
        (api.post("/opportunities", {"name": "o", "pipeline_id": "x\u0000"}), 422),
        (api.get("/accounts", q="a\x00b"), 422),
        (api.get("/contacts", account_public_id="a\x00"), 422),
        (api.get("/change_events", record_id="a\x00"), 422),
        (api.get("/accounts/a%00b"), 404),
        (api.get("/pipelines/a%00b/board"), 404),
        (api.get("/accounts", updated_since="9999-12-31T23:59:59-12:00"), 422),
        (api.post("/activities", {"occurred_at": "0001-01-01T00:00:00+14:00"}), 422),
        (api.post("/opportunities", {"name": "o", "stage_position": 2**40}), 422),
        (api.client.post("/api/v1/crm/leads", headers=api.headers,
                         data="[" * 5000 + "]" * 5000, content_type="application/json"), 400),
        (api.client.post("/api/v1/crm/leads", headers=api.headers, data="x=1"), 415),
        (api.client.post("/api/v1/crm/leads", headers=api.headers, content_type="application/json",
                         data=b'{"title": "' + b"x" * (17 * 1024 * 1024) + b'"}'), 413),
    ]
    for resp, status in cases:
        assert resp.status_code == status, resp.json
        assert set(resp.json["error"]) == {"code", "message", "details"}
