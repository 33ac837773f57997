"""Bundle export: GET /export streams it now; POST /exports makes a job whose file downloads later."""
from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request
from werkzeug.wsgi import wrap_file

from api import context
from shared.bundle import export_files, export_jobs, export_options
from shared.bundle.export_stream import stream_bundle
from shared.errors import ServiceUnavailable, UnsupportedMediaType, ValidationFailed
from shared.services.jobs import job_json

log = logging.getLogger(__name__)

bp = Blueprint("bundles_export", __name__, url_prefix="/api/v1/crm")

EXPORT_TASK = "drippulse.export.run"
FILE_CHUNK = 256 * 1024


def _resume(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    # a generator (not itertools.chain) so that closing the response closes the stream,
    # which ends the snapshot transaction when a client disconnects
    try:
        yield first
        yield from rest
    finally:
        rest.close()


@bp.get("/export")
def export_now():
    options = export_options.parse_query(request.args)
    stream = stream_bundle(context.org_id(), include_deleted=options["include_deleted"],
                           gzip=options["gzip"])
    first = next(stream)  # takes the snapshot now; a database error still becomes a JSON error
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    mimetype = "application/json"
    if options["gzip"]:
        mimetype = "application/gzip"
        headers["Content-Disposition"] = 'attachment; filename="drippulse-export.json.gz"'
    return Response(_resume(first, stream), mimetype=mimetype, headers=headers)


def _enqueue(job_id: str) -> None:
    from worker.app import celery_app  # the API only sends; importing late keeps settings current

    celery_app.send_task(EXPORT_TASK, args=[job_id])


@bp.post("/exports")
def create_export():
    body = None
    if request.get_data(cache=True):
        if not request.is_json:
            raise UnsupportedMediaType("Send the export options as application/json")
        body = request.get_json(silent=True)
        if body is None:
            raise ValidationFailed("The request body is not valid JSON",
                                                  {"body": ["is not valid JSON"]})
    options = export_options.parse_body(body)
    job = export_jobs.create_export_job(context.org_id(), options, context.actor())
    try:
        _enqueue(str(job.id))
    except Exception as exc:  # noqa: BLE001 - any broker failure: the job cannot run
        log.exception("could not enqueue export job %s", job.id)
        export_jobs.fail_queued(context.org_id(), job.id, "broker_unavailable",
                                "the job queue is unreachable")
        raise ServiceUnavailable("The job queue is unreachable; try again shortly") from exc
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/crm/jobs/{job.id}"
    return response


@bp.get("/jobs/<job_id>/download")
def download(job_id: str):
    found = export_files.open_download(context.org_id(), job_id)
    # the server's file wrapper (sendfile under gunicorn) closes the file even on HEAD
    body = wrap_file(request.environ, found.handle, FILE_CHUNK)
    return Response(body, direct_passthrough=True, mimetype=found.content_type, headers={
        "Content-Length": str(found.size),
        "Content-Disposition": f'attachment; filename="{found.filename}"',
        "Cache-Control": "private, no-store",
    })
