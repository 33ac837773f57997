"""Who is calling: every /api/v1 request resolves to exactly one organization."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Flask, current_app, g, request

from shared import auth
from shared.auth import Principal

API_PREFIX = "/api/v1/"
# Readable without a token: clients fetch the API description before they have a key.
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
EXTENSION = "drippulse.authentication"

# A way other than the bearer token to know the caller (the dashboard's session cookie).
# Answers None to let the next source, and finally the bearer token, decide.
PrincipalSource = Callable[[], Principal | None]


class Authentication:
    """The app's authentication, kept in `app.extensions[EXTENSION]`."""

    def __init__(self) -> None:
        self.sources: list[PrincipalSource] = []

    def add_source(self, source: PrincipalSource) -> None:
        self.sources.append(source)

    def resolve(self) -> Principal:
        for source in self.sources:
            found = source()
            if found is not None:
                return found
        # raises Unauthorized for a missing, malformed, expired or revoked token
        return auth.authenticate_bearer(request.headers.get("Authorization"))


def init_app(app: Flask) -> Authentication:
    """Install authentication as a before_request hook; returns it so sources can be added."""
    extension = Authentication()
    app.extensions[EXTENSION] = extension
    app.before_request(authenticate)
    return extension


def authentication(app: Flask) -> Authentication:
    try:
        return app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("api.context.init_app(app) must run first") from None


def authenticate() -> None:
    """Sets g.principal for /api/v1 requests (None elsewhere, and for the public paths)."""
    g.principal = None
    if request.path.startswith(API_PREFIX) and request.path not in PUBLIC_PATHS:
        g.principal = authentication(current_app).resolve()


def principal() -> Principal:
    return g.principal


def org_id() -> uuid.UUID:
    return g.principal.organization_id


def actor() -> str:
    return g.principal.actor
