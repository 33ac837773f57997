"""Examples for every operation of the OpenAPI document, derived from its schemas.

Hand-written examples drift from the schemas they illustrate; these are built from the schema
of each body and response, so they always have its keys, enums and formats. An example
written by hand next to a schema (`"example": ...`) wins over a derived one.
"""
from __future__ import annotations

from typing import Any

from shared import errors

# Values a reader recognises, by property name (anything else gets one from its type).
NAMED = {
    "name": "Acme", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@acme.example",
    "company": "Acme", "title": "CTO", "phone": "+44 20 7946 0000", "domain": "acme.example",
    "website": "www.acme.example", "subject": "Intro call", "currency": "EUR",
    "amount": "1200.00", "url": "https://hooks.acme.example/drippulse", "public_id": "acc_0001",
    "message": "Invalid account", "external_system": "salesforce", "external_id": "0015g00000XyZ", "code": "validation_failed", "actor": "user:4c1d2e3f",
}
# Request examples show these optional keys too, when the body has them.
SHOWN_OPTIONAL = ("first_name", "last_name", "email", "amount", "currency", "subject", "url",
                  "events", "kind", "type", "record_type", "record_public_id")
STRING_FORMATS = {
    "uuid": "0f8e6a3c-4b1d-4c59-9a7e-2d5f1b3c9e10", "date-time": "2026-03-01T09:30:00Z",
    "date": "2026-03-31", "email": "ada@acme.example", "decimal": "1200.00",
}
ERROR_CLASSES = {str(c.status): c for c in (errors.BadRequest, errors.Unauthorized,
                                            errors.NotFound, errors.Conflict,
                                            errors.PayloadTooLarge, errors.UnsupportedMediaType,
                                            errors.ValidationFailed)}


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example_of(schema: dict, components: dict, *, request: bool = False, name: str = "",
               depth: int = 0) -> Any:
    """A value valid against `schema`; a request example keeps to the required keys and a few
    telling ones, a response example shows every key."""
    schema = _resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    if "allOf" in schema:
        merged: dict = {}
        for part in schema["allOf"]:
            merged |= example_of(part, components, request=request, depth=depth)
        return merged
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        return _object(schema, components, request, depth)
    if kind == "array":
        items = schema.get("items")
        return [] if items is None or depth > 4 else [
            example_of(items, components, request=request, name=name, depth=depth + 1)]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if schema.get("pattern") == "^[A-Z]{3}$":
        return "EUR"
    if name.endswith("_public_id"):
        return f"{name[:3]}_0001"
    if name.endswith("_name"):
        return "Acme"
    return STRING_FORMATS.get(schema.get("format", ""), NAMED.get(name, name or "text"))


def _object(schema: dict, components: dict, request: bool, depth: int) -> dict:
    props: dict = schema.get("properties", {})
    if request:
        props = {k: v for k, v in props.items() if not _resolve(v, components).get("readOnly")}
        keys = [*schema.get("required", []),
                *(k for k in SHOWN_OPTIONAL if k in props and k not in schema.get("required", []))]
        props = {k: props[k] for k in (keys or list(props)[:1])}
    else:
        props = {k: v for k, v in props.items() if not _resolve(v, components).get("writeOnly")}
    if depth > 4:
        return {}
    return {k: example_of(v, components, request=request, name=k, depth=depth + 1)
            for k, v in props.items()}


def error_example(status: str) -> dict:
    cls = ERROR_CLASSES.get(status)
    code = cls.code if cls is not None else "error"
    details = {"name": ["is required"]} if status == "422" else {}
    return {"error": {"code": code, "message": code.replace("_", " ").capitalize(),
                      "details": details}}


def add_examples(spec: dict) -> None:
    """An example on every JSON request body and every JSON response that has a schema."""
    components = spec["components"]["schemas"]
    for item in spec["paths"].values():
        for method, op in item.items():
            if method == "parameters":
                continue
            body = op.get("requestBody")
            if body and body.get("content"):
                body["content"] = _filled(body["content"],
                                          lambda s: example_of(s, components, request=True))
            for status, response in op.get("responses", {}).items():
                if not response.get("content"):
                    continue
                if status.startswith("2"):
                    response["content"] = _filled(response["content"],
                                                  lambda s: example_of(s, components))
                else:
                    response["content"] = _filled(response["content"],
                                                  lambda s, status=status: error_example(status))


def _filled(content: dict, make: Any) -> dict:
    """A copy of `content` with an example on its JSON media (content and media objects may
    be shared between operations and statuses, so they are never changed in place)."""
    media = content.get("application/json")
    if media is None or "schema" not in media or "example" in media or "examples" in media:
        return content
    return {**content, "application/json": {**media, "example": make(media["schema"])}}
