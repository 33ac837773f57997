"""Options of an export, from a query string (GET /export) or a JSON body (POST /exports)."""
from __future__ import annotations

from typing import Any

from shared.errors import ValidationFailed

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")
DEFAULTS = {"gzip": False, "include_deleted": True}


def parse_flag(name: str, raw: str | None, default: bool) -> bool:
    """A boolean query parameter: true/false (also 1/0, yes/no); absent or empty → default."""
    if raw in (None, ""):
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationFailed(f"Invalid {name}", {name: ["must be true or false"]})


def parse_query(args: Any) -> dict[str, bool]:
    return {name: parse_flag(name, args.get(name), default) for name, default in DEFAULTS.items()}


def parse_body(body: Any) -> dict[str, bool]:
    """The optional body of POST /exports: {"gzip": bool, "include_deleted": bool}."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object",
                               {"body": ["must be a JSON object"]})
    problems = {key: ["is not a known option (gzip, include_deleted)"]
                for key in body if key not in DEFAULTS}
    problems.update({key: ["must be true or false"] for key in DEFAULTS
                     if key in body and not isinstance(body[key], bool)})
    if problems:
        raise ValidationFailed("Invalid export options", problems)
    return {key: body.get(key, default) for key, default in DEFAULTS.items()}
