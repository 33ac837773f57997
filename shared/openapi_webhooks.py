"""OpenAPI paths of webhooks and of the job event stream (docs/notifications.md)."""
from __future__ import annotations

from typing import Any

from shared.notifications.events import EVENTS
from shared.urls import CRM_API


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _page(item: str) -> dict:
    return {"type": "object", "properties": {"items": {"type": "array", "items": _ref(item)},
                                             "next": {"type": "string", "nullable": True}}}


EVENT_LIST = {"type": "array", "minItems": 1,
              "items": {"type": "string", "enum": list(EVENTS)}}

WEBHOOK = {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "url": {"type": "string"},
    "events": EVENT_LIST, "active": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "links": {"type": "object", "properties": {"self": {"type": "string"},
                                               "deliveries": {"type": "string"}}}}}

WEBHOOK_CREATED = {"allOf": [_ref("Webhook"), {"type": "object", "properties": {
    "secret": {"type": "string", "description": "shown once: sign-check deliveries with it"}}}]}

ATTEMPT = {"type": "object", "properties": {
    "delivery_id": {"type": "string", "format": "uuid",
                    "description": "the DripPulse-Delivery header: the same on every retry"},
    "event": {"type": "string", "enum": list(EVENTS)},
    "job_id": {"type": "string", "format": "uuid"}, "attempt": {"type": "integer"},
    "status_code": {"type": "integer", "nullable": True},
    "latency": {"type": "integer", "nullable": True, "description": "milliseconds"},
    "latency_ms": {"type": "integer", "nullable": True},
    "delivered_at": {"type": "string", "format": "date-time"}, "ok": {"type": "boolean"},
    "error": {"type": "string", "nullable": True},
    "response_excerpt": {"type": "string", "nullable": True},
    "delivery_status": {"type": "string", "enum": ["pending", "succeeded", "failed"]}}}

DELIVERY = {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "webhook_id": {"type": "string"},
    "job_id": {"type": "string"}, "event": {"type": "string", "enum": list(EVENTS)},
    "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
    "attempts": {"type": "integer"},
    "next_attempt_at": {"type": "string", "format": "date-time", "nullable": True}}}

WRITE = {"type": "object", "additionalProperties": False, "properties": {
    "url": {"type": "string", "description": "http(s); must resolve to public addresses"},
    "events": EVENT_LIST, "active": {"type": "boolean"}}}


def schemas() -> dict[str, Any]:
    return {"Webhook": WEBHOOK, "WebhookCreated": WEBHOOK_CREATED,
            "WebhookAttempt": ATTEMPT, "WebhookDelivery": DELIVERY}


def paths() -> dict[str, Any]:
    webhook_id = {"name": "webhook_id", "in": "path", "required": True,
                  "schema": {"type": "string"}}
    delivery_id = {"name": "delivery_id", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paging = [{"name": "limit", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1}},
              {"name": "cursor", "in": "query", "required": False,
               "schema": {"type": "string"}}]
    body = {"required": True, "content": {"application/json": {"schema": {
        **WRITE, "required": ["url", "events"]}}}}
    base = f"{CRM_API}/webhooks"
    return {
        base: {
            "get": {"tags": ["webhooks"], "summary": "The organization's webhooks",
                    "parameters": paging,
                    "responses": {"200": _json("Page of webhooks", _page("Webhook"))}},
            "post": {"tags": ["webhooks"], "summary": "Subscribe a URL to job events; the "
                     "answer carries the signing secret, shown once",
                     "requestBody": body,
                     "responses": {"201": _json("Created", _ref("WebhookCreated"))}}},
        f"{base}/{{webhook_id}}": {
            "parameters": [webhook_id],
            "get": {"tags": ["webhooks"], "summary": "One webhook (never its secret)",
                    "responses": {"200": _json("Webhook", _ref("Webhook"))}},
            "patch": {"tags": ["webhooks"], "summary": "Change its URL, events or active flag",
                      "requestBody": {"required": True, "content": {
                          "application/json": {"schema": WRITE}}},
                      "responses": {"200": _json("Webhook", _ref("Webhook"))}},
            "delete": {"tags": ["webhooks"], "summary": "Delete it and its deliveries",
                       "responses": {"204": {"description": "Deleted"}}}},
        f"{base}/{{webhook_id}}/deliveries": {
            "parameters": [webhook_id],
            "get": {"tags": ["webhooks"], "summary": "Delivery attempts, newest first (one "
                    "item per attempt)", "parameters": paging,
                    "responses": {"200": _json("Page of attempts", _page("WebhookAttempt"))}}},
        f"{base}/deliveries/{{delivery_id}}/resend": {
            "parameters": [delivery_id],
            "post": {"tags": ["webhooks"], "summary": "Send a delivery again now (same id "
                     "and body)",
                     "responses": {"202": _json("The delivery", _ref("WebhookDelivery"))}}},
        f"{CRM_API}/jobs/{{job_id}}/events": {
            "parameters": [job_id],
            "get": {"tags": ["jobs"], "summary": "Server-sent events: `data: <job JSON>` on "
                    "each change; ends after the final status (or after 30 s: reconnect)",
                    "responses": {
                        "200": {"description": "Event stream",
                                "content": {"text/event-stream": {
                                    "schema": {"type": "string"}}}},
                        "503": _json("Too many streams: poll GET jobs/{id}",
                                     _ref("Error"))}}},
    }
