"""Saved CSV mappings of the organization: /api/v1/crm/mappings (docs/api.md, "Saved mappings").

`GET mappings?headers=…` is the wizard's question "did anyone here map these columns before?":
the list filtered to that header set (one item or none, never a 404); without `headers` it lists
them all.
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from api import context
from api.body import json_body, reject_nul
from shared.errors import ValidationFailed
from shared.pagination import parse_limit
from shared.services import saved_mappings as service
from shared.urls import CRM_API

bp = Blueprint("mappings", __name__, url_prefix=f"{CRM_API}/mappings")
bp.before_request(reject_nul)

_LIST_PARAMS = {"cursor", "limit"}


def _headers_param(values: list[str]) -> list[str]:
    """`headers=<JSON array>` once, or `headers=a&headers=b` (one value that is not a JSON
    array is a single header)."""
    if len(values) == 1 and values[0].lstrip().startswith("["):
        try:
            parsed = json.loads(values[0])
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(h, str) for h in parsed):
            raise ValidationFailed("Invalid headers", {"headers": [
                "must be a JSON array of strings, or repeated"]})
        values = parsed
    if not values:
        raise ValidationFailed("Invalid headers", {"headers": ["must name at least one header"]})
    return values


@bp.get("")
def find_or_list_mappings():
    """Without `headers` the list; with it the list filtered to that header set: the saved
    mapping as the one item, or no item (200 either way)."""
    org = context.org_id()
    if "headers" in request.args:
        headers = _headers_param(request.args.getlist("headers"))
        row = service.for_headers(org, headers)
        return jsonify({"items": [service.mapping_json(row)] if row is not None else [],
                        "next": None})
    unknown = sorted(set(request.args) - _LIST_PARAMS)
    if unknown:
        raise ValidationFailed("Unknown query parameters",
                               {name: ["is not a parameter of this list"] for name in unknown})
    rows, next_cursor = service.list_page(org, cursor=request.args.get("cursor"),
                                          limit=parse_limit(request.args.get("limit")))
    return jsonify({"items": [service.mapping_json(r) for r in rows], "next": next_cursor})


@bp.put("")
def save_mapping():
    """Create or replace the mapping for these headers: 201 when new, else 200."""
    row, created = service.save(context.org_id(), json_body(), context.actor())
    response = jsonify(service.mapping_json(row))
    response.status_code = 201 if created else 200
    return response


@bp.delete("/<mapping_id>")
def delete_mapping(mapping_id: str):
    service.delete(context.org_id(), mapping_id)
    return Response(status=204)
