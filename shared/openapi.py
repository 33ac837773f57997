"""The OpenAPI 3 document of the CRM API.

The record components come from the marshmallow body schemas (shared/openapi_records.py);
the rest, which has no marshmallow schema, is written here and in shared/openapi_*.py.

`build_spec()` describes the routes this module knows; the API adds a minimal entry for any
other registered /api/v1 route (api/routes/openapi.py), so the document never misses one.
"""
from __future__ import annotations

from typing import Any

from shared import openapi_examples, openapi_jobs, openapi_mappings, openapi_pipelines
from shared.entities import ENTITIES, Entity
from shared.openapi_records import record_components, title
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT
from shared.services import record_filters
from shared.urls import CRM_API

PREFIX = CRM_API
UUID = {"type": "string", "format": "uuid"}
TS = {"type": "string", "format": "date-time"}
ERROR_DESCRIPTIONS = {
    "400": "The body is not JSON", "401": "Missing, bad, expired or revoked token",
    "404": "No such resource in this organization", "409": "Conflict",
    "413": "Body too large", "415": "Body is not application/json",
    "422": "Invalid parameters or body (details name the fields)",
}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _filter_schema(entity: Entity, name: str) -> dict:
    """The value a list filter accepts (record_filters validates exactly this)."""
    kinds = {f.name: f.kind for f in entity.fields}
    type_filters = {r.type_column: r.record_types for r in entity.polymorphic_references}
    if name == "updated_since":
        return TS
    if name in type_filters:
        return {"type": "string", "enum": list(type_filters[name])}
    if name in ("status", "type") and name in kinds and kinds[name].name == "choice":
        return dict(kinds[name].openapi)
    if name in {ref.column for ref in entity.references}:
        return UUID
    return {"type": "string"}


def _query(name: str, description: str = "", schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


PAGING = [
    _query("limit", f"page size, default {DEFAULT_LIMIT}, at most {MAX_LIMIT} (clamped)",
           {"type": "integer", "minimum": 1}),
    _query("cursor", "the `next` value of the previous page"),
]
ID_PARAM = {"name": "id", "in": "path", "required": True, "description": "uuid or public_id",
            "schema": {"type": "string"}}


def _responses(ok: str, schema: dict | None, *extra: str) -> dict:
    responses: dict[str, Any] = {ok: {"description": "OK"} if schema is None else {
        "description": "OK", "content": {"application/json": {"schema": schema}}}}
    for status in ("401", *extra):
        responses[status] = {"description": "Error", "content": {
            "application/json": {"schema": _ref("Error")}}}
    return responses


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def record_paths(entity: Entity) -> dict[str, dict]:
    name, tag = title(entity), entity.plural
    filters = [_query(name, schema=_filter_schema(entity, name))
               for name in record_filters.allowed_params(entity)
               if name not in ("limit", "cursor", "include_deleted")]
    include_deleted = _query("include_deleted", "true to include soft-deleted rows "
                             "(absent or empty: false)", {"type": "boolean"})
    return {
        f"{PREFIX}/{entity.plural}": {
            "get": {"tags": [tag], "summary": f"List {entity.plural}",
                    "parameters": [*PAGING, include_deleted, *filters],
                    "responses": _responses("200", _ref(f"{name}List"), "422")},
            "post": {"tags": [tag], "summary": f"Create one {entity.name}",
                     "requestBody": _body(f"{name}Create"),
                     "responses": _responses("201", _ref(name), "409", "422")},
        },
        f"{PREFIX}/{entity.plural}/{{id}}": {
            "parameters": [ID_PARAM],
            "get": {"tags": [tag], "summary": f"Get one {entity.name}",
                    "parameters": [include_deleted],
                    "responses": _responses("200", _ref(name), "404")},
            "patch": {"tags": [tag], "summary": f"Update one {entity.name}",
                      "requestBody": _body(f"{name}Update"),
                      "responses": _responses("200", _ref(name), "404", "422")},
            "delete": {"tags": [tag], "summary": f"Soft-delete one {entity.name}",
                       "responses": _responses("204", None, "404")},
        },
    }


def _obj(**props: dict) -> dict:
    return {"type": "object", "properties": props}


STAGE = _obj(id=UUID, public_id={"type": "string"}, pipeline_id=UUID, name={"type": "string"},
             position={"type": "integer"}, kind={"type": "string", "enum": ["open", "won", "lost"]})
PIPELINE = _obj(id=UUID, public_id={"type": "string"}, name={"type": "string"},
                is_default={"type": "boolean"}, created_at=TS, updated_at=TS,
                stages={"type": "array", "items": _ref("Stage")})
CHANGE_EVENT = _obj(id=UUID, record_type={"type": "string"}, record_id=UUID,
                    public_id=_nullable({"type": "string"}),
                    record_name=_nullable({"type": "string", "readOnly": True,
                                           "description": "the record's name today (a "
                                           "person's full name or email, an activity's "
                                           "subject); null when the row is gone"}),
                    event_type={"type": "string",
                                "enum": ["created", "updated", "deleted", "imported"]},
                    changes={"type": "object", "description": "{field: [old, new]}"},
                    actor=_nullable({"type": "string"}),
                    actor_email=_nullable({"type": "string", "readOnly": True,
                                           "description": "the email of a user: actor"}),
                    job_id=_nullable(UUID), occurred_at=TS,
                    request_id=_nullable({"type": "string"}))
BOARD_COLUMN = _obj(stage=_ref("Stage"), count={"type": "integer"},
                    amount_total={"type": "string"},
                    amount_by_currency={"type": "object",
                                        "additionalProperties": {"type": "string"}},
                    items={"type": "array", "items": _ref("Opportunity")},
                    next=_nullable({"type": "string"}))
ERROR = _obj(error=_obj(code={"type": "string"}, message={"type": "string"}, details={}))


NAME = {"type": "string", "minLength": 1, "maxLength": 200}
STAGE_KIND = {"type": "string", "enum": ["open", "won", "lost"]}


def _closed(schema: dict, *required: str) -> dict:
    """A request body schema: unknown keys are refused (422), as the services do."""
    return {**schema, "additionalProperties": False, **({"required": list(required)}
                                                        if required else {})}


def _list_of(name: str) -> dict:
    return _obj(items={"type": "array", "items": _ref(name)}, next=_nullable({"type": "string"}))


def other_paths() -> dict[str, dict]:
    pid = {"name": "id", "in": "path", "required": True, "description": "uuid or public_id",
           "schema": {"type": "string"}}
    tag = ["pipelines"]
    return {
        f"{PREFIX}/pipelines": {
            "get": {"tags": tag, "summary": "List pipelines with their stages",
                    "parameters": PAGING, "responses": _responses("200", _list_of("Pipeline"))},
            "post": {"tags": tag, "summary": "Create a pipeline (default stages unless given)",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": _closed(_obj(
                             name=NAME, is_default={"type": "boolean"},
                             stages={"type": "array", "minItems": 1, "maxItems": 100,
                                     "items": _closed(_obj(name=NAME, kind=STAGE_KIND),
                                                      "name")}), "name")}}},
                     "responses": _responses("201", _ref("Pipeline"), "422")},
        },
        f"{PREFIX}/pipelines/{{id}}": {
            "parameters": [pid],
            "get": {"tags": tag, "summary": "Get a pipeline",
                    "responses": _responses("200", _ref("Pipeline"), "404")}},
        f"{PREFIX}/pipelines/{{id}}/stages": {
            "parameters": [pid],
            "get": {"tags": tag, "summary": "Stages in position order",
                    "responses": _responses("200", _list_of("Stage"), "404")},
            "post": {"tags": tag, "summary": "Add a stage (at `position`, else at the end)",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": _closed(_obj(name=NAME, kind=STAGE_KIND,
                                                position=_nullable({"type": "integer",
                                                                    "minimum": 0})),
                                           "name")}}},
                     "responses": _responses("201", _ref("Stage"), "404", "422")}},
        f"{PREFIX}/pipelines/{{id}}/board": {
            "parameters": [pid],
            "get": {"tags": tag, "summary": "Kanban columns with cards, counts and totals",
                    "parameters": [
                        _query("limit", "cards per column, default 20, at most 500",
                               {"type": "integer", "minimum": 1}),
                        _query("stage_id", "only this column (to page it)"),
                        _query("cursor", "a column's `next` (with stage_id)")],
                    "responses": _responses("200", _obj(
                        pipeline=_ref("Pipeline"),
                        columns={"type": "array", "items": _ref("BoardColumn")}), "404", "422")}},
        f"{PREFIX}/change_events": {
            "get": {"tags": ["change_events"], "summary": "Change history, newest first",
                    "parameters": [*PAGING,
                                   _query("record_type", "", {"type": "string", "enum": [
                                       *(e.name for e in ENTITIES), "pipeline",
                                       "pipeline_stage"]}),
                                   _query("record_id", "uuid or public_id"),
                                   _query("event_type", "", {"type": "string", "enum": [
                                       "created", "updated", "deleted", "imported"]}),
                                   _query("since", "only events at or after this date-time",
                                          TS)],
                    "responses": _responses("200", _list_of("ChangeEvent"), "422")}},
        "/api/v1/openapi.json": {
            "get": {"tags": ["meta"], "summary": "This document (no authentication)",
                    "security": [], "responses": {"200": {"description": "OpenAPI 3 JSON", "content": {
                        "application/json": {"schema": _obj(
                            openapi={"type": "string"}, info={"type": "object"},
                            paths={"type": "object"}, components={"type": "object"})}}}}}},
    }


def document_errors(paths: dict[str, dict]) -> None:
    """Every operation lists the error statuses the shared layers can give it: 401 (auth),
    400/415/422 for a JSON body (not JSON, not application/json, invalid), 422 for query
    parameters, 404 for an id in the path. Added here once instead of per route."""
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    for item in paths.values():
        path_params = any(p.get("in") == "path" for p in item.get("parameters", []))
        for method, op in item.items():
            if method == "parameters":
                continue
            statuses = [] if op.get("security") == [] else ["401"]
            body = op.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                statuses += ["400", "415", "422"]
            if body:
                statuses.append("415")
            if any(p.get("in") == "query" for p in op.get("parameters", [])):
                statuses.append("422")
            if path_params or any(p.get("in") == "path" for p in op.get("parameters", [])):
                statuses.append("404")
            for status in statuses:
                op["responses"].setdefault(status, {"description": ERROR_DESCRIPTIONS[status],
                                                    **error})


def build_spec() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR, "Stage": STAGE, "Pipeline": PIPELINE,
                               "ChangeEvent": CHANGE_EVENT, "BoardColumn": BOARD_COLUMN}
    paths: dict[str, Any] = {}
    schemas |= record_components(ENTITIES)
    for entity in ENTITIES:
        paths |= record_paths(entity)
    paths |= other_paths()
    openapi_pipelines.add_paths(paths)
    paths |= openapi_jobs.paths()
    schemas |= openapi_jobs.schemas()
    paths |= openapi_mappings.paths()
    schemas |= openapi_mappings.schemas()
    document_errors(paths)
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "DripPulse CRM API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "API key (dp_...) or JWT"}},
            "schemas": schemas,
        },
        "paths": paths,
    }
    openapi_examples.add_examples(spec)
    return spec
