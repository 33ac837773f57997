"""Opportunity pipelines, their stages and the Kanban board: /api/v1/crm/pipelines."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import context
from api.body import json_body, reject_nul
from shared.pagination import parse_limit
from shared.services import pipelines
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
    return jsonify(pipelines.create_pipeline(context.org_id(), json_body())), 201


@bp.get("/<pipeline_id>")
def get_pipeline(pipeline_id: str):
    return jsonify(pipelines.get_pipeline(context.org_id(), pipeline_id))


@bp.get("/<pipeline_id>/stages")
def list_stages(pipeline_id: str):
    return jsonify({"items": pipelines.list_stages(context.org_id(), pipeline_id),
                    "next": None})


@bp.post("/<pipeline_id>/stages")
def create_stage(pipeline_id: str):
    return jsonify(pipelines.create_stage(context.org_id(), pipeline_id, json_body())), 201


@bp.get("/<pipeline_id>/board")
def board(pipeline_id: str):
    params = request.args.to_dict()
    return jsonify(pipelines.board(context.org_id(), pipeline_id, params,
                                   parse_limit(params.get("limit"), default=20)))
