"""OpenAPI paths of the bundle and job endpoints (docs/architecture.md: "HTTP API",
"Bundle format", "Job JSON")."""
from __future__ import annotations

from typing import Any

from shared import openapi_webhooks
from shared.entities import ENTITIES
from shared.interop.source import SOURCES
from shared.jobs.status import STATUSES
from shared.urls import CRM_API

PREFIX = CRM_API


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(*statuses: str) -> dict:
    return {s: {"description": "Error", "content": {"application/json": {"schema": _ref("Error")}}}
            for s in ("401", *statuses)}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


COUNTS = {"type": "object", "properties": {
    k: {"type": "integer"} for k in ("total", "processed", "created", "updated", "unchanged",
                                     "failed")}}

JOB = {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"},
    "kind": {"type": "string", "enum": ["import", "export", "revert"]},
    "reverts": {"type": "string", "format": "uuid", "description": "reverts: the import undone"},
    "force": {"type": "boolean", "description": "reverts: rows changed since are reverted too"},
    "status": {"type": "string", "enum": list(STATUSES)},
    "progress": {"type": "object", "properties": {e.plural: COUNTS for e in ENTITIES}},
    "percent": {"type": "integer", "minimum": 0, "maximum": 100},
    "error_count": {"type": "integer"},
    "error": {"type": "object", "nullable": True},
    "dry_run": {"type": "boolean"},
    "source": {"type": "string", "enum": list(SOURCES),
               "description": "imports: where the upload came from"},
    "warnings": {"type": "array", "description": "imports: skipped files, objects and columns; "
                 "stage names that fell back to Unassigned; stages created",
                 "items": {"type": "object", "properties": {
                     "code": {"type": "string"}, "message": {"type": "string"},
                     "file": {"type": "string"}}}},
    "reading": {"type": "object", "nullable": True,
                "description": "imports, while the upload is read (before per-entity totals "
                               "exist): bytes of the stored upload read, its size, rows read; "
                               "null otherwise",
                "properties": {"bytes": {"type": "integer"},
                               "bytes_total": {"type": "integer", "nullable": True},
                               "rows": {"type": "integer"}}},
    "format": {"type": "string", "enum": ["json", "csv"], "description": "exports"},
    "attempts": {"type": "integer"},
    "created_at": {"type": "string", "format": "date-time"},
    "started_at": {"type": "string", "format": "date-time", "nullable": True},
    "finished_at": {"type": "string", "format": "date-time", "nullable": True},
    "links": {"type": "object", "properties": {
        "self": {"type": "string"}, "errors": {"type": "string"},
        "download": {"type": "string", "nullable": True}}},
}}

JOB_ERROR = {"type": "object", "properties": {
    # entity is null for errors about the bundle as a whole (an unknown top-level key)
    "entity": {"type": "string", "nullable": True}, "index": {"type": "integer", "nullable": True},
    "public_id": {"type": "string", "nullable": True}, "field": {"type": "string", "nullable": True},
    "code": {"type": "string"}, "message": {"type": "string"},
    # where a converted row is in the source (imports from other systems)
    "file": {"type": "string"}, "row": {"type": "integer", "description": "header = 1"},
    "record": {"type": "integer"}, "referenceId": {"type": "string"}}}

BUNDLE = {"type": "object", "description": "Bundle version 1 (any subset of the arrays)",
          "properties": {"version": {"type": "integer", "enum": [1]},
                         "exported_at": {"type": "string", "format": "date-time"},
                         "organization_id": {"type": "string", "format": "uuid"},
                         **{e.plural: {"type": "array", "items": {"type": "object"}}
                            for e in ENTITIES}}}


def _job_response(status: str) -> dict:
    return {status: {"description": "The job", "content": {"application/json": {
        "schema": _ref("Job")}}}}


def schemas() -> dict[str, Any]:
    return {"Job": JOB, "JobError": JOB_ERROR, "Bundle": BUNDLE, **openapi_webhooks.schemas()}


def paths() -> dict[str, Any]:
    return {**_job_paths(), **openapi_webhooks.paths()}


def _job_paths() -> dict[str, Any]:
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paging = [_query("limit", "page size", {"type": "integer", "minimum": 1}),
              _query("cursor", "the `next` value of the previous page")]
    return {
        f"{PREFIX}/export": {"get": {
            "tags": ["bundles"], "summary": "The organization's whole bundle, streamed",
            "parameters": [_query("include_deleted", "false leaves soft-deleted rows out",
                                  {"type": "boolean", "default": True}),
                           _query("format", "json: the bundle; csv: a zip of one CSV per "
                                  "entity plus mapping.json",
                                  {"type": "string", "enum": ["json", "csv"]})],
            "responses": {"200": {"description": "Bundle", "content": {
                "application/json": {"schema": _ref("Bundle")},
                "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                **_error("422")}}},
        f"{PREFIX}/import": {"post": {
            "tags": ["bundles"], "summary": "Upload a bundle or another system's export; a worker "
                                            "imports it",
            "parameters": [
                _query("dry_run", "validate everything, write nothing", {"type": "boolean"}),
                _query("source", "what the upload is (docs/interop.md)",
                       {"type": "string", "enum": list(SOURCES), "default": "bundle"}),
                _query("create_stages", "add the source's missing open stages to the default "
                       "pipeline first", {"type": "boolean"}),
                {"name": "Idempotency-Key", "in": "header", "required": False,
                 "schema": {"type": "string"},
                 "description": "same key and body → same job; other body → 422"}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("Bundle")},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "a bundle; or, with source, CSV/JSON files or "
                                            "one zip"},
                    "mapping": {"type": "string", "format": "binary",
                                "description": "source=csv: the mapping document"}}}}}},
            "responses": {**_job_response("202"), **_job_response("200"),
                          **_error("400", "413", "415", "422")}}},
        f"{PREFIX}/exports": {"post": {
            "tags": ["bundles"], "summary": "Start an export job (file in storage)",
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"gzip": {"type": "boolean"},
                               "include_deleted": {"type": "boolean"},
                               "format": {"type": "string", "enum": ["json", "csv"]}}}}}},
            "responses": {**_job_response("202"), **_error("422")}}},
        f"{PREFIX}/jobs": {"get": {
            "tags": ["jobs"], "summary": "Jobs, newest first",
            "parameters": [*paging,
                           _query("kind", "import or export",
                                  {"type": "string", "enum": ["import", "export"]}),
                           _query("status", "one of the job statuses",
                                  {"type": "string", "enum": list(STATUSES)})],
            "responses": {"200": {"description": "Page of jobs", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "items": {"type": "array", "items": _ref("Job")},
                    "next": {"type": "string", "nullable": True}}}}}}, **_error("422")}}},
        f"{PREFIX}/jobs/{{job_id}}": {"parameters": [job_id], "get": {
            "tags": ["jobs"], "summary": "One job: status, progress per entity, links",
            "responses": {**_job_response("200"), **_error("404")}}},
        f"{PREFIX}/jobs/{{job_id}}/errors": {"parameters": [job_id], "get": {
            "tags": ["jobs"], "summary": "Row errors (entity, index, public_id, field, message)",
            "parameters": paging,
            "responses": {"200": {"description": "Page of errors", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "items": {"type": "array", "items": _ref("JobError")},
                    "next": {"type": "string", "nullable": True}}}}}}, **_error("404", "422")}}},
        f"{PREFIX}/jobs/{{job_id}}/cancel": {"parameters": [job_id], "post": {
            "tags": ["jobs"], "summary": "Cancel (queued: at once, 200; running: at the next batch, 202)",
            "responses": {**_job_response("200"), **_job_response("202"),
                          **_error("404", "409")}}},
        f"{PREFIX}/jobs/{{job_id}}/revert": {"parameters": [job_id], "post": {
            "tags": ["jobs"], "summary": "Undo a finished import: created rows soft-deleted, "
                                         "updated rows restored (a revert job)",
            "parameters": [_query("dry_run", "preview: counts and conflicts, nothing changed",
                                  {"type": "boolean"}),
                           _query("force", "also revert rows changed after the import",
                                  {"type": "boolean"})],
            "responses": {**_job_response("202"), **_error("404", "409", "422")}}},
        f"{PREFIX}/jobs/{{job_id}}/retry": {"parameters": [job_id], "post": {
            "tags": ["jobs"], "summary": "Queue a failed job again; it resumes from its checkpoint",
            "responses": {**_job_response("202"), **_error("404", "409")}}},
        f"{PREFIX}/jobs/{{job_id}}/download": {"parameters": [job_id], "get": {
            "tags": ["jobs"], "summary": "The export file (Content-Length, Content-Disposition)",
            "responses": {"200": {"description": "File", "content": {
                "application/json": {"schema": _ref("Bundle")},
                **{t: {"schema": {"type": "string", "format": "binary"}}
                   for t in ("application/gzip", "application/zip")}}},
                **_error("404", "409", "410")}}},
        "/api/v1/me": {"get": {
            "tags": ["meta"], "summary": "The organization and actor the token resolves to",
            "responses": {"200": {"description": "Who am I", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "organization_id": {"type": "string", "format": "uuid"},
                    "organization_name": {"type": "string"},
                    "actor": {"type": "string", "description": "user:<id> or api_key:<id>"}}}}}},
                **_error()}}},
    }
