"""One error hierarchy for the API and the worker; the API turns each into its JSON body."""
from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(AppError):
    """422: `details` maps each offending field to its messages."""

    status, code = 422, "validation_failed"


class RateLimited(AppError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, {"retry_after": retry_after}, code=code)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    status, code = 503, "service_unavailable"
