"""POST /api/v1/crm/import: a bundle (JSON body, multipart `file`, gzip) becomes an import job."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, jsonify, request

from api import context
from api.enqueue import enqueue
from shared.bundle.upload import known_idempotency_key, submit_import
from shared.config import get_settings
from shared.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from shared.interop.source import SOURCES
from shared.interop.upload import (
    MAX_MAPPING_BYTES,
    read_mapping_part,
    receive_parts,
    receive_zip_body,
    submit_source_import,
)
from shared.services import jobs as job_service
from shared.services.jobs import job_json
from shared.urls import CRM_API

bp = Blueprint("bundles_import", __name__, url_prefix=CRM_API)

BODY_TYPES = {"application/json", "application/gzip", "application/x-gzip",
              "application/octet-stream"}
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream"}
MULTIPART_OVERHEAD = 64 * 1024
TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw not in TRUE | {"", "0", "false", "no", "off"}:
        raise ValidationFailed("Invalid query parameter", {name: ["must be true or false"]})
    return raw in TRUE


def _source() -> str:
    source = (request.args.get("source") or "bundle").strip().lower()
    if source not in SOURCES:
        raise ValidationFailed("Invalid query parameter",
                               {"source": ["must be one of " + ", ".join(SOURCES)]})
    return source


@bp.post("/import")
def post_import():
    settings = get_settings()
    limit = settings.max_upload_bytes
    dry_run = _flag("dry_run")
    source = _source()
    create_stages = _flag("create_stages")
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > 255:
        raise ValidationFailed("Invalid Idempotency-Key", {"Idempotency-Key": ["at most 255 chars"]})
    if source != "bundle":
        return _answer(*_import_source(source, dry_run, create_stages, key, limit))
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise UnsupportedMediaType("Content-Encoding must be gzip or absent",
                                   {"supported": ["gzip"]})
    mimetype = request.mimetype
    if mimetype in BODY_TYPES:
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(f"the upload exceeds {limit} bytes", {"max_upload_bytes": limit})
        source = request.stream
        expected_size = request.content_length
        expect_gzip = encoding == "gzip"
    elif mimetype == "multipart/form-data":
        _limit_form_stream(limit)
        upload = request.files.get("file")  # werkzeug spools large parts to disk, not memory
        if upload is None:
            raise ValidationFailed("No file", {"file": ["a multipart field named file is required"]})
        source = upload.stream
        expected_size = None  # the multipart parser checks the framing itself
        expect_gzip = (upload.filename or "").lower().endswith(".gz")
    else:
        raise UnsupportedMediaType(
            "Send the bundle as application/json (optionally Content-Encoding: gzip) or as a "
            "multipart/form-data field named file", {"content_type": mimetype or None})
    _ensure_capacity(key)
    job, created = submit_import(context.org_id(), context.actor(), source, limit=limit,
                                 dry_run=dry_run, idempotency_key=key, expect_gzip=expect_gzip,
                                 enqueue=enqueue, expected_size=expected_size)
    return _answer(job, created)


def _import_source(source: str, dry_run: bool, create_stages: bool, key: str | None,
                   limit: int):
    """Another system's export: one zip (raw body) or multipart files (+ mapping)."""
    mimetype = request.mimetype
    _limit_form_stream(limit)
    with tempfile.TemporaryDirectory(prefix="drippulse-upload-") as tmp:
        path = Path(tmp) / "upload.zip"
        if mimetype in ZIP_TYPES:
            receive_zip_body(request.stream, path, limit, request.content_length)
        elif mimetype == "multipart/form-data":
            mapping = request.files.get("mapping")
            mapping_bytes = read_mapping_part(
                mapping.stream.read(MAX_MAPPING_BYTES + 1) if mapping is not None
                else request.form.get("mapping"))
            parts = [(f.filename or "", f.stream) for f in request.files.getlist("file")]
            receive_parts(parts, mapping_bytes, path, limit)
        else:
            raise UnsupportedMediaType(
                f"Send the {source} export as application/zip or as multipart/form-data "
                "fields named file (and mapping for csv)", {"content_type": mimetype or None})
        _ensure_capacity(key)
        return submit_source_import(context.org_id(), context.actor(), path, source=source,
                                    dry_run=dry_run, create_stages=create_stages,
                                    idempotency_key=key, limit=limit, enqueue=enqueue)


def _limit_form_stream(limit: int) -> None:
    """Refuse a body over the limit as its bytes arrive, however it is framed: the multipart
    parser spools parts to disk before the route sees them, so a chunked body (no
    Content-Length) used to be read to its end first. Werkzeug counts the stream it parses
    against max_content_length and stops there."""
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"the upload exceeds {limit} bytes", {"max_upload_bytes": limit})
    request.max_content_length = limit + MULTIPART_OVERHEAD


def _ensure_capacity(key: str | None) -> None:
    """The active-jobs cap, except for a replay of a known Idempotency-Key (it answers with its
    job, whatever the load); a fresh key counts like no key."""
    if not known_idempotency_key(context.org_id(), "import", key):
        job_service.ensure_capacity(context.org_id())


def _answer(job, created: bool):
    body = job_json(job)
    response = jsonify(body)
    response.status_code = 202 if created else 200
    response.headers["Location"] = body["links"]["self"]
    return response
