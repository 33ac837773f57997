"""Every API error leaves as `{"error": {"code", "message", "details"}}`. Only a browser's
dashboard URL (under /app) gets an HTML page in the app shell instead: a person reads it."""
from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from flask import Flask, g, jsonify, redirect, request, url_for
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import HTTPException

from shared.errors import AppError, RateLimited

log = logging.getLogger("drippulse.api")


def error_response(status: int, code: str, message: str, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


_TITLES = {404: "Page not found", 405: "Not allowed here", 500: "Something went wrong"}


def _dashboard_url() -> bool:
    return request.path == "/app" or request.path.startswith("/app/")


def _html_error(status: int, message: str):
    """The error as a page in the app shell, or None to fall back to JSON (e.g. the database is
    what failed, so the shell cannot be drawn). Signed out, the visitor signs in first, like at
    any other /app URL: an error page must not be a way around the sign-in."""
    from api import session_auth
    from api.routes import dashboard

    try:
        g.user = session_auth.current_user()
        if g.user is None:
            return redirect(url_for("dashboard_auth.login",
                                    next=request.full_path.rstrip("?")))
        title = _TITLES.get(status, "Something went wrong")
        html = dashboard.render_page("error.html", title, "",
                                     context={"status": status, "message": message})
    except Exception:  # noqa: BLE001 - an error page must never raise; JSON still answers
        log.exception("could not render the HTML error page")
        return None
    return html, status


def init_app(app: Flask) -> None:
    """Flask picks a handler by the exception's class (most specific first), so the order below
    does not matter; what matters is that they exist before the first request."""
    @app.errorhandler(AppError)
    def handle_app_error(exc: AppError):
        if _dashboard_url() and (page := _html_error(exc.status, exc.message)) is not None:
            return page
        response = jsonify(exc.to_dict())
        response.status_code = exc.status
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        if _dashboard_url() and (page := _html_error(exc.code or 500,
                                                     exc.description or exc.name)) is not None:
            response = app.make_response(page)
        else:
            response = error_response(exc.code or 500, code, exc.description or exc.name)
        # RFC 9110: a 405 names the methods the URL does allow, HTML page or JSON alike (a
        # signed-out visitor's redirect to the sign-in page is no 405 and gets none)
        if response.status_code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(sa.exc.DataError)
    def handle_data_error(exc: sa.exc.DataError):
        # The database refused a value (a NUL in text, a number out of range) that validation
        # let through: the request is at fault, not the server. Logged, since validation
        # should have named the field; the message never echoes the SQL.
        log.warning("database refused a value: %s", exc.orig)
        return error_response(422, "invalid_value", "A value in the request cannot be stored")

    @app.errorhandler(UnicodeEncodeError)
    def handle_unencodable(exc: UnicodeEncodeError):
        log.warning("unencodable text in a request: %s", exc.reason)
        return error_response(422, "invalid_value",
                              "The request contains text that is not valid Unicode "
                              "(an unpaired surrogate)")

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error")
        if _dashboard_url() and (page := _html_error(500, "An unexpected error occurred")):
            return page
        return error_response(500, "internal_error", "An unexpected error occurred")


def _gunicorn_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn answers itself, before the app sees the request (a request line over its
    limit: 414; headers it cannot parse: 400 / 431), in the API's error shape. The parser's
    message is not echoed: it quotes the client's bytes."""
    from gunicorn import util

    code = reason.lower().replace(" ", "_")
    body = json.dumps({"error": {"code": code, "message": reason, "details": None}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorsWorker(ThreadWorker):
    """gunicorn's threaded worker, whose own error answers (414 above all) are JSON like every
    other API error, and whose threads a slow client cannot hold: each request's headers and
    body are read under the bounds of api/body_timeouts.py. Set once per worker process: that
    process serves only this app."""

    def init_process(self) -> None:
        from gunicorn import util

        from api.body_timeouts import ReadLimits
        from shared.config import get_settings

        util.write_error = _gunicorn_error
        self.read_limits = ReadLimits.from_settings(get_settings())
        super().init_process()

    def handle(self, conn):
        from api.body_timeouts import end_cut_connection

        guard = self._read_guard(conn)
        if guard is None:
            return super().handle(conn)
        guard.expect_headers()
        try:
            keepalive = super().handle(conn)
        finally:
            guard.stop()
        if guard.cut:  # never reuse a connection whose request was cut mid-read
            end_cut_connection(conn.sock)
            return False
        return keepalive

    def handle_request(self, req, conn):
        guard = getattr(conn, "read_guard", None)
        if guard is None:
            return super().handle_request(req, conn)
        # a cut body answers 408 with "Connection: close"
        guard.expect_body(on_cut=getattr(req, "force_close", None))
        try:
            return super().handle_request(req, conn)
        finally:
            guard.answered()

    def _read_guard(self, conn):
        """The connection's ReadGuard, put under its HTTP/1 parser on first use. gunicorn builds
        the parser when the first byte is in (TConn.init); building it here instead is the same
        call, but over the guard. TLS and cleartext HTTP/2 negotiate first, so they keep
        gunicorn's own (unbounded) reads."""
        from gunicorn import http

        from api.body_timeouts import ReadGuard

        guard = getattr(conn, "read_guard", None)
        if guard is not None:
            return guard
        if conn.parser is None:
            if self.cfg.is_ssl or getattr(self.cfg, "http2_cleartext", "off") != "off":
                return None
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        unreader = getattr(conn.parser, "unreader", None)
        if unreader is None or not hasattr(unreader, "sock"):  # an HTTP/2 connection
            return None
        guard = unreader.sock = ReadGuard(unreader.sock, self.read_limits)
        conn.read_guard = guard
        return guard
