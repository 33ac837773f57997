"""GET /api/docs: the OpenAPI document as a readable page, rendered on the server (no CDN)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from api.routes.openapi import spec_for

bp = Blueprint("api_docs", __name__)

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(spec: dict) -> list[dict]:
    operations = []
    for path, item in spec["paths"].items():
        shared_params = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [*shared_params, *op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {})
            operations.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "tag": (op.get("tags") or ["other"])[0],
                "params": [(p["name"], p["in"], p.get("description", "")) for p in params],
                "body": ", ".join(body), "responses": sorted(op.get("responses", {})),
            })
    return operations


@bp.get("/api/docs")
def api_docs():
    spec = spec_for(current_app)
    operations = _operations(spec)
    tags = sorted({op["tag"] for op in operations})
    return render_template("api_docs.html", spec=spec, operations=operations, tags=tags)
