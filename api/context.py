"""Who is calling: every /api/v1 request resolves to exactly one organization."""
from __future__ import annotations

import uuid

from flask import Flask, g, request

from shared import auth
from shared.auth import Principal

API_PREFIX = "/api/v1/"
# Readable without a token: clients fetch the API description before they have a key.
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})


def register(app: Flask) -> None:
    @app.before_request
    def authenticate() -> None:
        g.principal = None
        if request.path.startswith(API_PREFIX) and request.path not in PUBLIC_PATHS:
            session_principal = getattr(app, "session_principal", None)
            principal = session_principal() if session_principal else None
            g.principal = principal or auth.authenticate_bearer(
                request.headers.get("Authorization"))


def principal() -> Principal:
    return g.principal


def org_id() -> uuid.UUID:
    return g.principal.organization_id


def actor() -> str:
    return g.principal.actor
