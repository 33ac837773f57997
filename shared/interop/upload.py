"""Accepting an import from another system: the upload becomes one zip in storage, checked
before any job exists.

Whatever the framing — a raw `application/zip` body, one multipart `file` part holding a zip,
or several `file` parts (CSV or JSON files) plus a `mapping` part — the API writes one local
zip with byte counting (over the upload limit → 413), checks it (shared.interop.files:
readable, no unsafe entry names, not too many entries, declared inflated size within the
limit; for source=csv a mapping that validates against the files' headers → else 422 naming
every problem), copies it to storage with its SHA-256, and only then creates the job.
"""
from __future__ import annotations

import hashlib
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import orjson

from shared.bundle.upload import StoredUpload, create_import_job, enqueue_created
from shared.errors import BadRequest, PayloadTooLarge, ValidationFailed
from shared.ids import uuid7
from shared.interop.files import ZipProblem, ZipSourceFiles, inspect_zip
from shared.storage import CHUNK, get_storage
from shared.storage_keys import upload_key

ZIP_MAGIC = b"PK\x03\x04"
MAPPING_NAME = "mapping.json"
MAX_MAPPING_BYTES = 1024 * 1024


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the upload exceeds {limit} bytes", {"max_upload_bytes": limit})


def _copy(source: BinaryIO, out: BinaryIO, limit: int, used: int = 0) -> int:
    while True:
        try:
            chunk = source.read(CHUNK)
        except OSError as exc:  # the client went away mid-body
            raise BadRequest("the upload was interrupted before its end",
                             code="incomplete_upload") from exc
        if not chunk:
            return used
        used += len(chunk)
        if used > limit:
            raise _too_large(limit)
        out.write(chunk)


def receive_zip_body(stream: BinaryIO, target: Path, limit: int,
                     expected_size: int | None) -> None:
    """A raw application/zip body, written to `target`."""
    with open(target, "wb") as out:
        size = _copy(stream, out, limit)
    if expected_size is not None and size != expected_size:
        raise BadRequest(f"the upload ended after {size} of the {expected_size} bytes its "
                         "Content-Length announced", code="incomplete_upload")
    if size == 0:
        raise BadRequest("the request body is empty; send a zip", code="empty_upload")


def receive_parts(parts: list[tuple[str, BinaryIO]], mapping: bytes | None, target: Path,
                  limit: int) -> None:
    """Multipart files (one zip, or CSV/JSON files) and an optional mapping, as one zip."""
    if not parts:
        raise ValidationFailed("No file", {"file": ["at least one multipart field named file "
                                                    "is required"]})
    first_head = parts[0][1].read(4)
    parts[0] = (parts[0][0], _Prefixed(parts[0][1], first_head))
    if len(parts) == 1 and first_head == ZIP_MAGIC:
        if mapping is None:
            with open(target, "wb") as out:
                _copy(parts[0][1], out, limit)
            return
        plain = target.with_suffix(".in.zip")
        with open(plain, "wb") as out:
            _copy(parts[0][1], out, limit)
        _check(plain, limit)
        with zipfile.ZipFile(plain) as inner, zipfile.ZipFile(target, "w",
                                                              zipfile.ZIP_DEFLATED) as out:
            for info in inner.infolist():
                if PurePosixPath(info.filename).name != MAPPING_NAME:
                    with inner.open(info) as src, out.open(info.filename, "w") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
            out.writestr(MAPPING_NAME, mapping)
        plain.unlink()
        return
    used = 0
    names: set[str] = set()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for filename, stream in parts:
            name = PurePosixPath((filename or "upload.csv").replace("\\", "/")).name
            if not name or name in names:
                raise ValidationFailed("Duplicate file name", {"file": [
                    f"two parts are named {name!r}"]})
            names.add(name)
            with out.open(name, "w", force_zip64=True) as dst:
                used = _copy(stream, dst, limit, used)
        if mapping is not None:
            out.writestr(MAPPING_NAME, mapping)


class _Prefixed:
    def __init__(self, stream: BinaryIO, head: bytes) -> None:
        self.stream, self.head = stream, head

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data
        return self.stream.read(size)


def _check(path: Path, limit: int) -> list[str]:
    try:
        return inspect_zip(path, limit)
    except ZipProblem as exc:
        if exc.too_large:
            raise PayloadTooLarge(exc.message, {"max_inflated_bytes": limit},
                                  code="upload_too_large") from exc
        raise BadRequest(exc.message, code=exc.code) from exc


def check_upload(path: Path, source: str, limit: int) -> None:
    """Refuse at upload what can be known there: a bad zip, and for csv a mapping that does
    not validate against the files (422 with every problem)."""
    names = _check(path, limit)
    if source != "csv":
        return
    from shared.interop.mapping import MappingInvalid, check_headers, parse_mapping

    mapping_names = [n for n in names if PurePosixPath(n).name == MAPPING_NAME]
    if not mapping_names:
        raise ValidationFailed("A mapping is required for source=csv", {
            "problems": [{"path": "mapping", "message": "send a mapping part or put "
                          "mapping.json in the zip"}]}, code="invalid_mapping")
    files = ZipSourceFiles(path, limit)
    try:
        with files.open(mapping_names[0]) as handle:
            raw = handle.read(MAX_MAPPING_BYTES + 1)
        if len(raw) > MAX_MAPPING_BYTES:
            raise ValidationFailed("The mapping is too large", {"problems": [
                {"path": "mapping", "message": f"at most {MAX_MAPPING_BYTES} bytes"}]},
                code="invalid_mapping")
        try:
            mapping = parse_mapping(raw, [n for n in names if n not in mapping_names])
            problems = check_headers(mapping, files)
        except MappingInvalid as exc:
            problems = exc.problems
        if problems:
            raise ValidationFailed("The mapping does not fit the files",
                                   {"problems": problems}, code="invalid_mapping")
    finally:
        files.close()


def submit_source_import(organization_id: uuid.UUID, actor: str, path: Path, *, source: str,
                         dry_run: bool, create_stages: bool, idempotency_key: str | None,
                         limit: int, enqueue: Callable[[str, list], None]) -> tuple[Any, bool]:
    """Check the local zip, store it and create + enqueue its job; (job, created?)."""
    check_upload(path, source, limit)
    job_id = uuid7()
    key = upload_key(organization_id, job_id, "zip")
    digest = hashlib.sha256()
    storage = get_storage()
    size = 0
    with storage.writer(key) as out, open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    upload = StoredUpload(key, size, digest.hexdigest(), False)
    params = {"dry_run": dry_run, "source": source, "create_stages": create_stages}
    request_hash = (f"sha256:{upload.sha256}:"
                    f"{orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()}")
    try:
        row = create_import_job(organization_id, actor, job_id, upload, request_hash, params,
                                idempotency_key, enqueue)
    except BaseException:
        storage.delete(key)
        raise
    return enqueue_created(row, job_id, upload)


def read_mapping_part(value: bytes | str | None) -> bytes | None:
    """A mapping sent as a multipart field (text) or file part, as bytes; None when absent."""
    if value is None:
        return None
    data = value.encode() if isinstance(value, str) else value
    if len(data) > MAX_MAPPING_BYTES:
        raise ValidationFailed("The mapping is too large", {"problems": [
            {"path": "mapping", "message": f"at most {MAX_MAPPING_BYTES} bytes"}]},
            code="invalid_mapping")
    return data
