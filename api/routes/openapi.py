"""GET /api/v1/openapi.json: the API's OpenAPI 3 document (no authentication needed)."""
from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app, jsonify

from shared.openapi import build_spec

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """Flask `/x/<a>/<int:b>` -> OpenAPI `/x/{a}/{b}`."""
    return _CONVERTER.sub(r"{\1}", rule)


def _normalized(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def spec_for(app: Flask) -> dict:
    """The generated document, plus a minimal entry for any /api/v1 route it does not describe
    (routes added by other modules), so every registered route is in the document."""
    spec = build_spec()
    documented = {_normalized(p): p for p in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = openapi_path(rule.rule)
        key = documented.setdefault(_normalized(path), path)
        item = spec["paths"].setdefault(key, {})
        view = app.view_functions.get(rule.endpoint)
        summary = ((view.__doc__ or "").strip().splitlines() or [rule.endpoint])[0]
        params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                  for a in sorted(rule.arguments)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            item.setdefault(method.lower(), {
                "summary": summary, "parameters": params,
                "responses": {"default": {"description": "See the endpoint's documentation"}},
            })
    return spec


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(spec_for(current_app))
