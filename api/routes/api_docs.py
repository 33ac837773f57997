"""GET /api/docs: the API reference (Swagger UI), served offline and within the app's CSP.

Swagger UI's files come from the `flask-swagger-ui` package (its `dist` folder; its blueprint
is not used: its page carries an inline script the CSP refuses). Our page loads them from
/api/docs/assets/, starts them from api/static/api_docs/api_docs.js and, without JavaScript,
shows the server-rendered list of operations. docs/api.md says why Swagger UI and not ReDoc.
"""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory

from api.routes.openapi import spec_for

bp = Blueprint("api_docs", __name__)

METHODS = ("get", "post", "put", "patch", "delete")
SWAGGER_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
# Only what the page loads: the package's other files (its index page, the OAuth redirect
# page with an inline script) are never served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})


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


@bp.get("/api/docs/assets/<name>")
def api_docs_asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    return send_from_directory(SWAGGER_DIST, name, max_age=3600)
