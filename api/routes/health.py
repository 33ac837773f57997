"""Liveness and readiness probes for load balancers and orchestrators."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from shared import db
from shared.broker import ping_broker

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        # both logins when DRIPPULSE_APP_DATABASE_URL is set: requests need the one and the other
        for engine in {db.get_engine(), db.get_tenant_engine()}:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    checks["broker"] = "ok" if ping_broker() else "error"
    ready = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503)
