"""Dashboard sessions: who is signed in, CSRF tokens, and the session principal for /api/v1.

The dashboard's JavaScript calls the same JSON API as every other client; with a session cookie
instead of a bearer token. A cookie rides along on requests another site makes, so any
state-changing API call made on the strength of the session must also carry the session's CSRF
token in the X-CSRF-Token header. Bearer-token calls are unaffected.
"""
from __future__ import annotations

import hmac
import secrets
import uuid

from flask import Flask, request, session

from api import context
from shared import auth
from shared.auth import Principal
from shared.errors import Forbidden
from shared.services import dashboard_sessions

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def csrf_token() -> str:
    """The session's CSRF token, minted on first use (also before sign-in, for the login form)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_valid(candidate: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and candidate and hmac.compare_digest(expected, candidate))


def sign_in(user: dict) -> None:
    """Start a fresh session for the user: a new CSRF token, nothing carried over from before."""
    session.clear()
    session["user_id"] = str(user["id"])
    session["org_id"] = str(user["organization_id"])
    session["email"] = user["email"]
    session.update(dashboard_sessions.new_session())
    session.permanent = False
    csrf_token()


def sign_out() -> None:
    """End the session here and everywhere a copy of its cookie went."""
    dashboard_sessions.revoke(session.get("sid"))
    session.clear()


def current_user() -> dict | None:
    """The signed-in, still active user with their organization's name; None otherwise."""
    user_id, org_id = session.get("user_id"), session.get("org_id")
    if not user_id or not org_id:
        return None
    try:
        user_uuid, org_uuid = uuid.UUID(user_id), uuid.UUID(org_id)
    except ValueError:
        return None
    if dashboard_sessions.expired(session.get("started")) or \
            dashboard_sessions.revoked(session.get("sid")):
        return None
    return auth.active_user(user_uuid, org_uuid)


def session_principal() -> Principal | None:
    """A principal source for api.context; None lets bearer authentication decide."""
    if request.headers.get("Authorization"):
        return None  # an explicit token always wins over an ambient cookie
    if "user_id" not in session:
        return None
    if request.method not in SAFE_METHODS and not csrf_valid(request.headers.get(CSRF_HEADER)):
        raise Forbidden("Missing or invalid CSRF token", {"header": CSRF_HEADER},
                        code="csrf_failed")
    user = current_user()
    if user is None:
        session.clear()
        return None
    return Principal(user["organization_id"], f"user:{user['id']}")


def init_app(app: Flask) -> None:
    """Let the dashboard's session cookie authenticate /api/v1 calls (after api.context)."""
    context.authentication(app).add_source(session_principal)
