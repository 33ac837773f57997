"""Options of an export, from a query string (GET /export) or a JSON body (POST /exports)."""
from __future__ import annotations

from typing import Any

from shared.errors import ValidationFailed

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")
FLAGS = {"gzip": False, "include_deleted": True}
FORMATS = ("json", "csv")
DEFAULT_FORMAT = "json"
KNOWN = (*FLAGS, "format")

FORMAT_PROBLEM = "must be json or csv"
# a zip is compressed already; gzipping it again would only cost CPU
GZIP_WITH_CSV = "cannot be combined with format csv (the zip is compressed already)"


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


def _checked(options: dict[str, Any]) -> dict[str, Any]:
    if options["format"] == "csv" and options["gzip"]:
        raise ValidationFailed("Invalid export options", {"gzip": [GZIP_WITH_CSV]})
    return options


def parse_query(args: Any) -> dict[str, Any]:
    """{"format": "json" | "csv", "gzip": bool, "include_deleted": bool} from a query string."""
    options: dict[str, Any] = {name: parse_flag(name, args.get(name), default)
                               for name, default in FLAGS.items()}
    raw_format = args.get("format")
    fmt = DEFAULT_FORMAT if raw_format in (None, "") else raw_format.strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed("Invalid format", {"format": [FORMAT_PROBLEM]})
    options["format"] = fmt
    return _checked(options)


def parse_body(body: Any) -> dict[str, Any]:
    """The optional body of POST /exports: {"format": "json" | "csv", "gzip": bool,
    "include_deleted": bool}."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object",
                               {"body": ["must be a JSON object"]})
    problems = _problems(body)
    if problems:
        raise ValidationFailed("Invalid export options", problems)
    options = {key: body.get(key, default) for key, default in FLAGS.items()}
    options["format"] = body.get("format", DEFAULT_FORMAT)
    return _checked(options)


def _problems(body: dict[str, Any]) -> dict[str, list[str]]:
    problems = {key: [f"is not a known option ({', '.join(sorted(KNOWN))})"]
                for key in body if key not in KNOWN}
    problems.update({key: ["must be true or false"] for key in FLAGS
                     if key in body and not isinstance(body[key], bool)})
    if "format" in body and body["format"] not in FORMATS:
        problems["format"] = [FORMAT_PROBLEM]
    if body.get("format") == "csv" and body.get("gzip"):
        problems["gzip"] = [GZIP_WITH_CSV]
    return problems


def problems(params: dict[str, Any]) -> dict[str, list[str]]:
    """Every problem of an export job's parameters (the export kind's validate)."""
    return _problems(params)
