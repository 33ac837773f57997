"""Opportunity pipelines, their stages and the Kanban board: /api/v1/crm/pipelines."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import context
from api.body import json_body, reject_nul
from shared.errors import ValidationFailed
from shared.pagination import parse_limit
from shared.services import pipeline_admin, pipeline_board, pipelines
from shared.urls import CRM_API

bp = Blueprint("pipelines", __name__, url_prefix=f"{CRM_API}/pipelines")
bp.before_request(reject_nul)


@bp.get("")
def list_pipelines():
    params = request.args.to_dict()
    items, next_cursor = pipelines.list_pipelines(context.org_id(), params,
                                                  parse_limit(params.get("limit")))
    return jsonify({"items": items, "next": next_cursor})


@bp.post("")
def create_pipeline():
    return jsonify(pipelines.create_pipeline(context.org_id(), json_body(),
                                             context.actor())), 201


@bp.get("/<pipeline_id>")
def get_pipeline(pipeline_id: str):
    return jsonify(pipelines.get_pipeline(context.org_id(), pipeline_id))


@bp.patch("/<pipeline_id>")
def update_pipeline(pipeline_id: str):
    """Rename a pipeline or make it the default"""
    return jsonify(pipeline_admin.update_pipeline(context.org_id(), pipeline_id, json_body(),
                                             context.actor()))


@bp.delete("/<pipeline_id>")
def delete_pipeline(pipeline_id: str):
    """Delete a pipeline (never the default); ?move_to= takes its opportunities"""
    pipeline_admin.delete_pipeline(context.org_id(), pipeline_id, _move_to(), context.actor())
    return "", 204


@bp.patch("/<pipeline_id>/stages/<stage_id>")
def update_stage(pipeline_id: str, stage_id: str):
    """Rename a stage, change its kind or move it to another position"""
    return jsonify(pipeline_admin.update_stage(context.org_id(), pipeline_id, stage_id, json_body(),
                                          context.actor()))


@bp.delete("/<pipeline_id>/stages/<stage_id>")
def delete_stage(pipeline_id: str, stage_id: str):
    """Delete a stage (never the last); ?move_to= takes its opportunities"""
    pipeline_admin.delete_stage(context.org_id(), pipeline_id, stage_id, _move_to(), context.actor())
    return "", 204


def _move_to() -> str | None:
    unknown = sorted(set(request.args) - {"move_to"})
    if unknown:
        raise ValidationFailed("Unknown query parameters",
                               {n: ["is not a parameter of this operation"] for n in unknown})
    return request.args.get("move_to") or None


@bp.get("/<pipeline_id>/stages")
def list_stages(pipeline_id: str):
    return jsonify({"items": pipelines.list_stages(context.org_id(), pipeline_id),
                    "next": None})


@bp.post("/<pipeline_id>/stages")
def create_stage(pipeline_id: str):
    return jsonify(pipelines.create_stage(context.org_id(), pipeline_id, json_body(),
                                          context.actor())), 201


@bp.get("/<pipeline_id>/board")
def board(pipeline_id: str):
    params = request.args.to_dict()
    return jsonify(pipeline_board.board(context.org_id(), pipeline_id, params,
                                   parse_limit(params.get("limit"), default=20)))
