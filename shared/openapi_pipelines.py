"""OpenAPI operations of the pipeline admin: PATCH and DELETE of pipelines and stages."""
from __future__ import annotations

from typing import Any

from shared.urls import CRM_API

NAME = {"type": "string", "minLength": 1, "maxLength": 200}
KIND = {"type": "string", "enum": ["open", "won", "lost"]}
ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
STAGE_ID = {"name": "stage_id", "in": "path", "required": True,
            "description": "uuid or public_id of a stage of this pipeline",
            "schema": {"type": "string"}}


def _ok(schema: str) -> dict:
    return {"description": "OK", "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _patch_body(example: dict, **props: dict) -> dict:
    return {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": False, "properties": props},
        "example": example}}}


def _move_to(what: str, required_when: str) -> dict:
    return {"name": "move_to", "in": "query", "required": False,
            "description": f"uuid or public_id of the {what} that takes the opportunities; "
                           f"required when {required_when} holds any (409 without it)",
            "schema": {"type": "string"}}


def add_paths(paths: dict[str, Any]) -> None:
    """Add the admin operations to the paths the main document already has (the pipeline
    path exists with its GET), and the stage path."""
    tag = ["pipelines"]
    paths.setdefault(f"{CRM_API}/pipelines/{{id}}", {}).update({
        "patch": {"tags": tag, "summary": "Rename a pipeline or make it the default",
                  "description": "`is_default: true` makes the previous default stop being "
                                 "it; `false` on the default is a 422 (there is always one). "
                                 "Appends a change event (`record_type` `pipeline`).",
                  "requestBody": _patch_body({"name": "Renewals", "is_default": True},
                                             name=NAME, is_default={"type": "boolean"}),
                  "responses": {"200": _ok("Pipeline")}},
        "delete": {"tags": tag, "summary": "Delete a pipeline (never the default)",
                   "description": "Its opportunities move to pipeline `move_to`, each to the "
                                  "first stage there of its stage's kind (else the first "
                                  "stage). The default pipeline is a 409.",
                   "parameters": [_move_to("pipeline", "the pipeline")],
                   "responses": {"204": {"description": "Deleted"}, "409": ERROR}},
    })
    paths[f"{CRM_API}/pipelines/{{id}}/stages/{{stage_id}}"] = {
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "description": "uuid or public_id", "schema": {"type": "string"}},
                       STAGE_ID],
        "patch": {"tags": tag, "summary": "Rename, re-kind or reorder a stage",
                  "description": "`position` is clamped to the end and the other stages close "
                                 "up (positions stay dense, 0-based); a new `kind` changes the "
                                 "status of the stage's opportunities. Appends a change event "
                                 "(`record_type` `pipeline_stage`).",
                  "requestBody": _patch_body({"name": "Demo booked", "position": 1},
                                             name=NAME, kind=KIND,
                                             position={"type": "integer", "minimum": 0}),
                  "responses": {"200": _ok("Stage")}},
        "delete": {"tags": tag, "summary": "Delete a stage (never the last)",
                   "description": "Its opportunities move to stage `move_to` of the same "
                                  "pipeline, after that column's cards. The last stage is a "
                                  "409 (`last_stage`).",
                   "parameters": [_move_to("stage", "the stage")],
                   "responses": {"204": {"description": "Deleted"}, "409": ERROR}},
    }
