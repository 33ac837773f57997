"""Bundle export: GET /export streams it now; POST /exports makes a job whose file downloads later.

Both take format=json (the bundle) or format=csv (a zip of CSV files and their mapping.json).
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request
from werkzeug.wsgi import wrap_file

from api import context
from api.body import json_body
from api.enqueue import enqueue
from shared.bundle import export_files, export_jobs, export_options
from shared.bundle.export_csv import stream_csv_zip
from shared.bundle.export_stream import stream_bundle
from shared.services import jobs as job_service
from shared.services.jobs import job_json
from shared.urls import CRM_API

bp = Blueprint("bundles_export", __name__, url_prefix=CRM_API)

FILE_CHUNK = 256 * 1024
MAX_OPTIONS_BYTES = 64 * 1024


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
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if options["format"] == "csv":
        stream = stream_csv_zip(context.org_id(), include_deleted=options["include_deleted"])
        first = next(stream)  # as below: snapshot and custom columns before the response
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        headers["Content-Disposition"] = f'attachment; filename="drippulse-export-{day}.zip"'
        return Response(_resume(first, stream), mimetype="application/zip", headers=headers)
    stream = stream_bundle(context.org_id(), include_deleted=options["include_deleted"],
                           gzip=options["gzip"])
    first = next(stream)  # takes the snapshot now; a database error still becomes a JSON error
    mimetype = "application/json"
    if options["gzip"]:
        mimetype = "application/gzip"
        headers["Content-Disposition"] = 'attachment; filename="drippulse-export.json.gz"'
    return Response(_resume(first, stream), mimetype=mimetype, headers=headers)


@bp.post("/exports")
def create_export():
    request.max_content_length = MAX_OPTIONS_BYTES  # options only: larger bodies get a 413
    options = export_options.parse_body(json_body() if request.get_data(cache=True) else None)
    job_service.ensure_capacity(context.org_id())
    job = export_jobs.create_export_job(context.org_id(), options, enqueue, context.actor())
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = f"{CRM_API}/jobs/{job.id}"
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
