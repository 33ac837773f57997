"""Dashboard sign-in and sign-out (HTML forms), and the security headers of its pages.

The session principal that lets the dashboard call the JSON API is api.session_auth's; the
app factory installs it and `security_headers`.
"""
from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from api import session_auth
from shared.auth import authenticate_user
from shared.errors import Forbidden
from shared.services import login_throttle

# Templates and static files live in the app's api/templates and api/static (served at /static).
bp = Blueprint("dashboard_auth", __name__)

BAD_CREDENTIALS = "Invalid email or password."


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
    ip = request.remote_addr or "unknown"
    wait = login_throttle.retry_after(email, ip)
    if wait:
        minutes = max(1, (wait + 59) // 60)
        page, status = _login_page(
            f"Too many failed sign-in attempts. Try again in {minutes} minute(s).", 429, email)
        return page, status, {"Retry-After": str(wait)}
    user = authenticate_user(email, password) if email and password else None
    if user is None:
        login_throttle.record_failure(email, ip)
        return _login_page(BAD_CREDENTIALS, 401, email)
    login_throttle.clear(email, ip)
    session_auth.sign_in(user)
    return redirect(_safe_next(request.form.get("next")))


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
