"""Phase 1 of an import from another system: convert the stored zip into spooled bundle rows.

The worker reads the zip from storage (a local file, or a temporary copy of an object in S3),
runs the source's converter over its files, and spools what it yields exactly like a bundle's
rows; the batches that follow cannot tell the difference. What the conversion reports
(warnings, source stages) comes back with the spool result. While it runs, the spool's
heartbeat records how far it got (bytes of the zip's files read, rows spooled) about once a
second and stops it when a cancel is requested, as for a bundle.
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.bundle import spool
from shared.bundle.spool import BundleError
from shared.bundle.spool_files import EntitySpool, SpoolResult, spool_converted
from shared.bundle.spool_heartbeat import SpoolHeartbeat
from shared.interop.files import ZipSourceFiles
from shared.interop.registry import converter_for
from shared.interop.source import ConversionError, Report
from shared.interop.watched_files import WatchedFiles
from shared.storage import Storage


@contextmanager
def local_copy(storage: Storage, key: str) -> Iterator[Path]:
    """A path to the stored file: the file itself when storage is a directory, else a
    temporary copy (zip members are read by seeking, which a network stream cannot do)."""
    local = getattr(storage, "local_path", None)
    path = local(key) if local else None
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="drippulse-upload-") as tmp:
        target = Path(tmp) / "upload.zip"
        with storage.open(key) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        yield target


def spool_source(storage: Storage, upload_key: str, source: str, options: dict[str, Any],
                 organization_id: uuid.UUID, job_id: uuid.UUID, batch_size: int,
                 max_inflated: int) -> tuple[SpoolResult, Report]:
    report = Report()
    convert = converter_for(source)
    beat = SpoolHeartbeat(organization_id, job_id)
    reading = beat.reading
    spools: dict[str, EntitySpool] = {}
    try:
        with local_copy(storage, upload_key) as path:
            files = ZipSourceFiles(path, max_inflated)
            try:
                reading.bytes_total = _inflated_size(path, files.names())
                watched = WatchedFiles(files, beat, reading,
                                       rows=lambda: sum(s.rows for s in spools.values()),
                                       every=spool.CANCEL_CHECK_SECONDS)
                result = spool_converted(storage, convert(watched, report, options),
                                         organization_id, job_id, batch_size, spools=spools)
            finally:
                files.close()
    except ConversionError as exc:
        raise BundleError(exc.code, exc.message) from exc
    if report.dropped_warnings:
        report.warnings.append({"code": "more_warnings",
                                "message": f"{report.dropped_warnings} more warnings not listed"})
    return result, report


def _inflated_size(path: Path, names: list[str]) -> int | None:
    """What the converter may read: the sizes the zip declares for its files (checked against
    the inflate limit at upload)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(archive.getinfo(name).file_size for name in names)
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
