"""Dashboard sign-in and sign-out (HTML forms), and the security headers of its pages.

The session principal that lets the dashboard call the JSON API is api.session_auth's; the
app factory installs it and `security_headers`.
"""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api import session_auth
from api.ratelimit import sign_in_throttle
from shared.auth import authenticate_user
from shared.config import get_settings
from shared.errors import Forbidden
from shared.services.login_throttle import Attempt, email_digest

# Templates and static files live in the app's api/templates and api/static (served at /static).
bp = Blueprint("dashboard_auth", __name__)

BAD_CREDENTIALS = "Invalid email or password."
# A browser that signed in as an email gets a signed device cookie for it; its later attempts on
# that email are counted on a budget of their own, so nobody sharing its proxy address (or
# guessing that email from anywhere) can lock it out (shared.services.login_throttle).
DEVICE_COOKIE = "drippulse_device"
DEVICE_MAX_AGE = 180 * 24 * 3600


def _safe_next(target: str | None) -> str:
    # Only our own app pages: an open redirect after sign-in is a phishing tool.
    if target and target.startswith("/app") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.home")


def _login_page(error: str | None = None, status: int = 200, email: str = ""):
    body = render_template("dashboard/login.html", error=error, email=email,
                           next=request.values.get("next", ""),
                           csrf_token=session_auth.csrf_token())
    return body, status


@bp.get("/")
def root():
    if session_auth.current_user():
        return redirect(url_for("dashboard.home"))
    return redirect(url_for("dashboard_auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if session_auth.current_user():
            return redirect(_safe_next(request.args.get("next")))
        return _login_page()
    email = (request.form.get("email") or "").strip()
    password = request.form.get("password") or ""
    if not session_auth.csrf_valid(request.form.get(session_auth.CSRF_FIELD)):
        return _login_page("Your sign-in form expired. Please try again.", 400, email)
    attempt = Attempt(email, request.remote_addr or "unknown", _known_device(email))
    throttle = sign_in_throttle()
    # charged before the password is checked: a parallel burst gets no more checks than allowed
    wait = throttle.admit(attempt)
    if wait:
        minutes = max(1, (wait + 59) // 60)
        page, status = _login_page(
            f"Too many failed sign-in attempts. Try again in {minutes} minute(s).", 429, email)
        return page, status, {"Retry-After": str(wait)}
    user = authenticate_user(email, password) if email and password else None
    if user is None:
        throttle.failed(attempt)
        return _login_page(BAD_CREDENTIALS, 401, email)
    throttle.succeeded(attempt)
    session_auth.sign_in(user)
    response = redirect(_safe_next(request.form.get("next")))
    _remember_device(response, email, attempt.device)
    return response


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().derived_key("device-cookie"),
                                  salt="drippulse-device")


def _known_device(email: str) -> str | None:
    """The browser's device id if it has signed in as this email before (a valid cookie)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        device, owner = _device_signer().loads(raw, max_age=DEVICE_MAX_AGE)
    except (BadSignature, TypeError, ValueError):
        return None
    return device if owner == email_digest(email) else None


def _remember_device(response: Response, email: str, device: str | None) -> None:
    device = device or secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE, _device_signer().dumps([device, email_digest(email)]),
        max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax", path="/login",
        secure=get_settings().production)


@bp.post("/logout")
def logout():
    if not session_auth.csrf_valid(request.form.get(session_auth.CSRF_FIELD)):
        raise Forbidden("Missing or invalid CSRF token", code="csrf_failed")
    session_auth.sign_out()
    return redirect(url_for("dashboard_auth.login"))


def security_headers(response: Response) -> Response:
    """An app-wide after_request hook (every response gets nosniff, HTML pages the rest)."""
    # Dashboard HTML only: no inline script anywhere, so a strict policy costs nothing.
    if response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
