"""Reading a JSON request body: a body that is not JSON is a 400, never a 500."""
from __future__ import annotations

from typing import Any

from flask import request

from shared.errors import BadRequest, NotFound, UnsupportedMediaType, ValidationFailed

# A record is small (the largest field, an activity body, is 1M characters); anything far
# bigger is refused before it is read into memory. Bundles go through the import route.
MAX_BODY_BYTES = 16 * 1024 * 1024


def json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json")
    request.max_content_length = MAX_BODY_BYTES
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting; json's own limit, not ours
        body = None
    if body is None:
        raise BadRequest("The request body is not valid JSON")
    return body


def reject_nul() -> None:
    """Postgres text cannot hold NUL: refuse it in query parameters (422) and ids (404) up front.

    Installed as a before_request hook of the CRM blueprints."""
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise ValidationFailed("Invalid query parameter",
                                   {key.replace("\x00", ""): ["must not contain NUL characters"]})
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound("No such resource")
