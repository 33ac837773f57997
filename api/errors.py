"""Every error leaves as `{"error": {"code", "message", "details"}}`, never as an HTML page."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from shared.errors import AppError, RateLimited

log = logging.getLogger("drippulse.api")


def error_response(status: int, code: str, message: str, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    """Flask picks a handler by the exception's class (most specific first), so the order below
    does not matter; what matters is that they exist before the first request."""
    @app.errorhandler(AppError)
    def handle_app_error(exc: AppError):
        response = jsonify(exc.to_dict())
        response.status_code = exc.status
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
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
        return error_response(500, "internal_error", "An unexpected error occurred")
