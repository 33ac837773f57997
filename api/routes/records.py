"""CRUD for every CRM record type: /api/v1/crm/<plural>[/<id>] (id = uuid or public_id)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import context
from api.body import json_body, reject_nul
from shared.entities import BY_PLURAL, ENTITIES
from shared.pagination import parse_limit
from shared.services import record_filters, records
from shared.urls import CRM_API

bp = Blueprint("records", __name__, url_prefix=CRM_API)
bp.before_request(reject_nul)


def _entity():
    return BY_PLURAL[request.url_rule.rule.split("/")[4]]


def list_view():
    entity = _entity()
    params = request.args.to_dict()
    items, next_cursor = records.list_records(entity, context.org_id(), params,
                                              parse_limit(params.get("limit")))
    return jsonify({"items": items, "next": next_cursor})


def create_view():
    row = records.create(_entity(), context.org_id(), json_body(), context.actor())
    return jsonify(row), 201


def get_view(record_id: str):
    include_deleted = record_filters.parse_bool("include_deleted",
                                                request.args.get("include_deleted"))
    return jsonify(records.get(_entity(), context.org_id(), record_id, include_deleted))


def update_view(record_id: str):
    return jsonify(records.update(_entity(), context.org_id(), record_id, json_body(),
                                  context.actor()))


def delete_view(record_id: str):
    records.delete(_entity(), context.org_id(), record_id, context.actor())
    return "", 204


# One rule per resource (not a <plural> converter) so the URL map and the OpenAPI spec list
# exactly the resources that exist.
for _e in ENTITIES:
    bp.add_url_rule(f"/{_e.plural}", f"{_e.plural}_list", list_view, methods=["GET"])
    bp.add_url_rule(f"/{_e.plural}", f"{_e.plural}_create", create_view, methods=["POST"])
    bp.add_url_rule(f"/{_e.plural}/<record_id>", f"{_e.plural}_get", get_view, methods=["GET"])
    bp.add_url_rule(f"/{_e.plural}/<record_id>", f"{_e.plural}_update", update_view,
                    methods=["PATCH"])
    bp.add_url_rule(f"/{_e.plural}/<record_id>", f"{_e.plural}_delete", delete_view,
                    methods=["DELETE"])
