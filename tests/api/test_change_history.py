"""Change history records the request that made each change and filters by time."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta


def test_events_carry_request_id_actor_and_filter_by_since(client, org):
    headers = org["headers"] | {"X-Request-ID": "audit-req-42"}
    created = client.post("/api/v1/crm/accounts", json={"name": "Audit Co"}, headers=headers)
    assert created.status_code == 201
    public_id = created.json["public_id"]
    client.patch(f"/api/v1/crm/accounts/{public_id}", json={"name": "Audit Co 2"},
                 headers=org["headers"] | {"X-Request-ID": "audit-req-43"})
    events = client.get(f"/api/v1/crm/change_events?record_id={public_id}",
                        headers=org["headers"]).json["items"]
    assert [(e["event_type"], e["request_id"]) for e in events] == [
        ("updated", "audit-req-43"), ("created", "audit-req-42")]
    assert events[0]["changes"]["name"] == ["Audit Co", "Audit Co 2"]
    assert events[0]["actor"].startswith("api_key:")

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = client.get("/api/v1/crm/change_events", query_string={"since": future},
                       headers=org["headers"])
    assert later.status_code == 200 and later.json["items"] == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    recent = client.get("/api/v1/crm/change_events", query_string={"since": past},
                        headers=org["headers"])
    assert len(recent.json["items"]) == 2
    bad = client.get("/api/v1/crm/change_events?since=yesterday", headers=org["headers"])
    assert bad.status_code == 422 and "since" in bad.json["error"]["details"]
