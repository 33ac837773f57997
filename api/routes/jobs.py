"""Jobs: list, show, row errors, cancel, retry (imports and exports alike)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, stream_with_context

from api import context
from api.enqueue import enqueue
from shared.bundle.export_options import parse_flag
from shared.bundle.revert_job import create_revert
from shared.errors import ValidationFailed
from shared.jobs import lifecycle
from shared.jobs.status import JobStatus
from shared.pagination import parse_limit
from shared.services import error_export
from shared.services import jobs as job_service
from shared.urls import CRM_API

bp = Blueprint("jobs", __name__, url_prefix=f"{CRM_API}/jobs")


@bp.get("")
def list_jobs():
    rows, next_cursor = job_service.list_jobs(
        context.org_id(), kind=request.args.get("kind") or None,
        status=request.args.get("status") or None, cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit")))
    return jsonify({"items": [job_service.job_json(r) for r in rows], "next": next_cursor})


@bp.get("/<job_id>")
def show_job(job_id: str):
    return jsonify(job_service.job_json(job_service.get_job(context.org_id(), job_id)))


@bp.get("/<job_id>/errors")
def job_errors(job_id: str):
    """Row errors, paginated; `?format=csv` or `?format=jsonl` downloads them all as a file."""
    fmt = request.args.get("format")
    if fmt:
        return error_file(job_id, fmt)
    items, next_cursor = job_service.list_errors(
        context.org_id(), job_id, cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit"), default=100, maximum=1000))
    return jsonify({"items": items, "next": next_cursor})


def flag(args, name: str) -> bool:
    return parse_flag(name, args.get(name), False)


def error_file(job_id: str, fmt: str) -> Response:
    if fmt not in error_export.FORMATS:
        raise ValidationFailed("Invalid format", {"format": ["must be csv or jsonl"]})
    org = context.org_id()
    job = job_service.get_job(org, job_id)  # 404 before the stream starts
    body = error_export.render(job_service.iter_errors(org, str(job.id)), fmt)
    response = Response(stream_with_context(body), mimetype=error_export.FORMATS[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="drippulse-job-{str(job.id)[-8:]}-errors.{fmt}"')
    return response


@bp.post("/<job_id>/cancel")
def cancel_job(job_id: str):
    row = lifecycle.request_cancel(context.org_id(), job_id)
    # a running job stops at its next batch boundary: 202 until then, 200 when already cancelled
    response = jsonify(job_service.job_json(row))
    response.status_code = 200 if row.status == JobStatus.CANCELLED else 202
    return response


@bp.post("/<job_id>/revert")
def revert_job(job_id: str):
    """Undo a finished import (`?dry_run=true` previews it, `?force=true` reverts rows changed
    since): 202 with the revert job."""
    row = create_revert(context.org_id(), job_id, dry_run=flag(request.args, "dry_run"),
                        force=flag(request.args, "force"), actor=context.actor(),
                        enqueue=enqueue)
    response = jsonify(job_service.job_json(row))
    response.status_code = 202
    response.headers["Location"] = f"{CRM_API}/jobs/{row.id}"
    return response


@bp.post("/<job_id>/retry")
def retry_job(job_id: str):
    row = lifecycle.retry(context.org_id(), job_id, enqueue)
    response = jsonify(job_service.job_json(row))
    response.status_code = 202
    response.headers["Location"] = f"{CRM_API}/jobs/{row.id}"
    return response
