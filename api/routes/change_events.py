"""Change history: GET /api/v1/crm/change_events?record_type=&record_id= (newest first)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import context
from api.body import reject_nul
from shared.pagination import parse_limit
from shared.services import change_log
from shared.urls import CRM_API

bp = Blueprint("change_events", __name__, url_prefix=CRM_API)
bp.before_request(reject_nul)


@bp.get("/change_events")
def list_change_events():
    params = request.args.to_dict()
    items, next_cursor = change_log.list_events(context.org_id(), params,
                                                parse_limit(params.get("limit")))
    return jsonify({"items": items, "next": next_cursor})
