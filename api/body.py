"""Reading a JSON request body: a body that is not JSON is a 400, never a 500."""
from __future__ import annotations

from typing import Any

from flask import request

from shared.errors import BadRequest, UnsupportedMediaType


def json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("The request body is not valid JSON")
    return body
