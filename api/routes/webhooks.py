"""Webhooks of the organization: /api/v1/crm/webhooks (docs/notifications.md)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from api import context
from api.body import json_body, reject_nul
from api.enqueue import enqueue
from shared.notifications import deliveries, hook
from shared.notifications import webhooks as service
from shared.pagination import parse_limit
from shared.urls import CRM_API

bp = Blueprint("webhooks", __name__, url_prefix=f"{CRM_API}/webhooks")
bp.before_request(reject_nul)

# jobs that end in the API process (a queued job cancelled at once) send from here
hook.set_sender(enqueue)


@bp.get("")
def list_webhooks():
    rows, next_cursor = service.list_page(context.org_id(), cursor=request.args.get("cursor"),
                                          limit=parse_limit(request.args.get("limit")))
    return jsonify({"items": [service.webhook_json(r) for r in rows], "next": next_cursor})


@bp.post("")
def create_webhook():
    row, secret = service.create(context.org_id(), json_body())
    response = jsonify({**service.webhook_json(row), "secret": secret})
    response.status_code = 201
    response.headers["Location"] = f"{CRM_API}/webhooks/{row.id}"
    return response


@bp.get("/<webhook_id>")
def show_webhook(webhook_id: str):
    return jsonify(service.webhook_json(service.get(context.org_id(), webhook_id)))


@bp.patch("/<webhook_id>")
def update_webhook(webhook_id: str):
    org = context.org_id()
    service.get(org, webhook_id)  # an unknown id is a 404 whatever the body
    return jsonify(service.webhook_json(service.update(org, webhook_id, json_body())))


@bp.delete("/<webhook_id>")
def delete_webhook(webhook_id: str):
    service.delete(context.org_id(), webhook_id)
    return Response(status=204)


@bp.get("/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str):
    """One item per attempt, newest first."""
    org = context.org_id()
    row = service.get(org, webhook_id)
    items, next_cursor = deliveries.attempts_page(
        org, row.id, cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit")))
    return jsonify({"items": items, "next": next_cursor})


@bp.post("/deliveries/<delivery_id>/resend")
def resend_delivery(delivery_id: str):
    row = deliveries.resend(context.org_id(), delivery_id)
    hook.send_now([row.id])
    response = jsonify(deliveries.delivery_json(row))
    response.status_code = 202
    return response
