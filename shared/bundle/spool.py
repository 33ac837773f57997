"""Phase 1 of an import: stream-parse the stored upload once and spool each entity's rows.

The parser (ijson, yajl2_c backend) walks the bundle event by event; each row is rebuilt, written
as one NDJSON line to a per-entity spool file in storage, and every `batch_size` rows a batch
boundary (row range + byte range) is recorded. Memory stays flat whatever the bundle size: one
row and the list of batch boundaries (rows / batch_size entries) are all that is held.
"""
from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, BinaryIO

import ijson

from shared.bundle.spool_files import EntitySpool, SpoolResult, spool_key, spool_result
from shared.bundle.spool_guard import GuardedReader, SpoolCancelled, SpoolLimit
from shared.bundle.spool_heartbeat import Reading, SpoolHeartbeat
from shared.config import get_settings
from shared.entities import BY_PLURAL
from shared.fields import MAX_JSON_DEPTH
from shared.storage import Storage

GZIP_MAGIC = b"\x1f\x8b"
KNOWN_KEYS = {"version", "exported_at", "organization_id"}
SUPPORTED_VERSION = 1
MAX_STRUCTURAL_ERRORS = 100
# yajl lexes a string cut by a buffer boundary again from its start on every read: with 64 KB
# reads a 16 MB string of escapes took 13 s, with 1 MiB reads under a second
PARSE_BUFFER = 1024 * 1024
# How often a running spool beats: records how far it read (the job JSON's `reading`) and looks
# at the job's cancel flag, in one statement (shared.bundle.spool_heartbeat)
CANCEL_CHECK_SECONDS = 1.0
_CONTAINER_START = ("start_map", "start_array")
_CONTAINER_END = ("end_map", "end_array")
UTF8_BOM = b"\xef\xbb\xbf"
# A row is one level above its custom_fields; a row nested deeper than this is not built nor
# serialized (that is what would crash: orjson stops at 255 levels, json at the recursion limit)
# but spooled as a REJECTED placeholder the row validator reports.
MAX_ROW_DEPTH = MAX_JSON_DEPTH + 1
# The placeholder's key: a NUL cannot be part of a stored key (jsonb), so no real row is lost.
REJECTED = "\x00rejected"


class BundleError(Exception):
    """The upload is not a bundle at all: the job fails with this code and message."""

    def __init__(self, code: str, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.offset = offset

    def as_error(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.offset is not None:
            error["offset"] = self.offset
        return error


def open_upload(storage: Storage, key: str) -> _Prefixed:
    """The upload as a byte stream, decompressed when it starts with the gzip magic bytes;
    its `stored_bytes_read` is how much of the stored file was read so far."""
    raw = storage.open(key)
    head = raw.read(2)
    try:
        raw.seek(0)
    except (AttributeError, OSError):  # a non-seekable backend stream: reopen instead
        raw.close()
        raw = storage.open(key)
    stored = _Counted(raw)
    stream = gzip.GzipFile(fileobj=stored, mode="rb") if head == GZIP_MAGIC else stored
    return _skip_bom(stream, stored)


def _skip_bom(stream: BinaryIO, stored: _Counted) -> _Prefixed:
    """The upload check lets a UTF-8 byte order mark through (editors on Windows write one);
    the parser does not know it, so it is dropped here."""
    head = stream.read(len(UTF8_BOM))
    return _Prefixed(stream, b"" if head == UTF8_BOM else head, stored)


class _Counted:
    """The stored file as read (before a gzip is inflated), counting its bytes: how far reading
    the upload got, comparable to its stored size. One addition per read of 128 KiB–1 MiB."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.count += len(chunk)
        return chunk

    def close(self) -> None:
        self.stream.close()


class _Prefixed:
    """A byte stream whose first bytes were already read (no seek: backends may not have it)."""

    def __init__(self, stream: BinaryIO, head: bytes, stored: _Counted) -> None:
        self.stream, self.head, self.stored = stream, head, stored

    @property
    def stored_bytes_read(self) -> int:
        return self.stored.count

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(size)
        if size is None or size < 0:
            data, self.head = self.head + self.stream.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        return data

    def close(self) -> None:
        self.stream.close()
        self.stored.close()  # a GzipFile given a file object leaves that open

    def __enter__(self) -> _Prefixed:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _skip_value(first_event: str, events) -> None:
    if first_event in _CONTAINER_START:
        _skip_open(events, 1)


def _skip_open(events, depth: int) -> None:
    """Consume events until `depth` open containers are closed."""
    for event, _value in events:
        if event in _CONTAINER_START:
            depth += 1
        elif event in _CONTAINER_END:
            depth -= 1
            if depth == 0:
                return


def _spool_array(events, spool: EntitySpool, batch_size: int) -> None:
    """Spool the rows of one array; `events` is just past its start_array."""
    for event, value in events:
        if event == "start_map" or event == "start_array":
            spool.write(_build_row(events, event), batch_size)
        elif event == "end_array":  # outside a row: the array itself ends
            return
        else:  # a scalar where a row belongs: spooled, and reported by the row validator
            spool.write(value, batch_size)


def _build_row(events, first_event: str) -> Any:
    """The row whose start event was just read, built from the parser's events.

    Inline rather than ijson's ObjectBuilder: three Python calls per event fewer, and a bundle
    row is ~30 events, so this loop is most of the spool pass. A row nested deeper than
    MAX_ROW_DEPTH is read to its end but comes back as a REJECTED placeholder."""
    root: Any = {} if first_event == "start_map" else []
    stack = [root]
    top = root
    key = None
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                return root
            top = stack[-1]
        elif event == "start_map" or event == "start_array":
            if len(stack) >= MAX_ROW_DEPTH:
                _skip_open(events, len(stack) + 1)  # the rest of the row
                return _rejected(root)
            child: Any = {} if event == "start_map" else []
            if type(top) is dict:
                top[key] = child
            else:
                top.append(child)
            stack.append(child)
            top = child
        elif type(top) is dict:
            top[key] = value
        else:
            top.append(value)
    return root  # pragma: no cover - the parser raises on a truncated document first


def _rejected(partial: Any) -> dict:
    """The placeholder of a row nested too deeply (its public_id kept when already read)."""
    public_id = partial.get("public_id") if isinstance(partial, dict) else None
    return {REJECTED: f"the row is nested deeper than {MAX_JSON_DEPTH} levels",
            "public_id": public_id if isinstance(public_id, str) else None}


def spool_bundle(storage: Storage, upload_key: str, organization_id: uuid.UUID,
                 job_id: uuid.UUID, batch_size: int,
                 cancelled: Callable[[], bool] | None = None) -> SpoolResult:
    """Parse the upload once; return totals, batch boundaries and structural errors.

    At its start and then about once a second (CANCEL_CHECK_SECONDS) the spool beats: by default
    one statement records how far it read in the job row (the job JSON's `reading`) and answers
    whether a cancel was requested. `cancelled` replaces that beat with a plain check. A cancel
    stops the parse: what was spooled so far is returned and the job's next step sees the
    request and ends it cancelled."""
    beat = _cancel_requested(organization_id, job_id) if cancelled is None else cancelled
    # the figures the beat writes; a check that is no SpoolHeartbeat has no use for them
    reading = beat.reading if isinstance(beat, SpoolHeartbeat) else Reading()
    reading.bytes_total = _stored_size(storage, upload_key)
    try:
        return _spool(ijson.basic_parse, storage, upload_key, organization_id, job_id, batch_size,
                      beat, reading)
    except _NumberOverflow:
        # The C parser stops at numbers beyond 64 bits, which are valid JSON (a jsonb numeric
        # in custom_fields exports as one). The pure-Python parser reads them exactly: slower,
        # so it is only the second pass for the bundles that need it.
        return _spool(ijson.get_backend("python").basic_parse, storage, upload_key, organization_id,
                      job_id, batch_size, beat, reading)


def _cancel_requested(organization_id: uuid.UUID, job_id: uuid.UUID) -> Callable[[], bool]:
    """The spool's default beat: progress written and the cancel flag read in one statement."""
    return SpoolHeartbeat(organization_id, job_id)


def _stored_size(storage: Storage, key: str) -> int | None:
    try:
        return storage.size(key)
    except (OSError, AttributeError):  # a backend that cannot tell: the total is unknown
        return None


class _NumberOverflow(Exception):
    pass


def _spool(parse, storage: Storage, upload_key: str, organization_id: uuid.UUID,
           job_id: uuid.UUID, batch_size: int, beat: Callable[[], bool],
           reading: Reading) -> SpoolResult:
    errors: list[dict] = []

    def structural(entity: str | None, fld: str | None, code: str, message: str) -> None:
        if len(errors) < MAX_STRUCTURAL_ERRORS:
            errors.append({"entity": entity, "index": None, "public_id": None, "field": fld,
                           "code": code, "message": message})

    spools: dict[str, EntitySpool] = {}
    with ExitStack() as stack:
        upload = stack.enter_context(open_upload(storage, upload_key))

        def heartbeat() -> bool:
            # figures gathered once a second, never per row: the spools count their rows anyway
            reading.bytes = upload.stored_bytes_read
            reading.rows = sum(spool.rows for spool in spools.values())
            return beat()

        stream = GuardedReader(upload, max_inflated=get_settings().max_inflated_bytes,
                               cancelled=heartbeat, check_every=CANCEL_CHECK_SECONDS)
        try:
            # the first beat at zero: the job shows it is reading at once, and a run resumed
            # after a killed one (or this second pass) never shows the earlier run's figures
            if heartbeat():
                raise SpoolCancelled()
            # basic_parse, not parse: parse builds each event's path prefix, which costs
            # O(depth) per event, so a few MB of "[[[[…" kept a worker busy for hours
            events = parse(stream, use_float=True, buf_size=PARSE_BUFFER)
            first = next(events, None)
            if first is None:
                raise BundleError("empty_bundle", "the upload is empty")
            if first[0] != "start_map":
                raise BundleError("invalid_bundle", "the bundle must be a JSON object")
            for event, value in events:
                if event == "end_map":  # every value below is consumed whole: this is the top
                    break
                if event != "map_key":  # pragma: no cover - ijson always yields keys here
                    continue
                key = value
                vevent, vvalue = next(events)
                if key in BY_PLURAL:
                    if vevent != "start_array":
                        structural(key, None, "invalid_bundle", "must be an array of rows; ignored")
                        _skip_value(vevent, events)
                        continue
                    spool = spools.get(key)
                    if spool is None:
                        skey = spool_key(organization_id, job_id, key)
                        spool = spools[key] = EntitySpool(skey, stack.enter_context(
                            storage.writer(skey)), max_bytes=get_settings().batch_max_bytes)
                    _spool_array(events, spool, batch_size)
                elif key == "version":
                    if vevent != "number" or vvalue != SUPPORTED_VERSION:
                        raise BundleError("unsupported_version",
                                          f"bundle version must be {SUPPORTED_VERSION}")
                elif key in KNOWN_KEYS:
                    _skip_value(vevent, events)
                else:
                    structural(None, key, "unknown_key", f"unknown top-level key {key!r} ignored")
                    _skip_value(vevent, events)
            for _ in events:  # trailing bytes after the bundle must still be valid JSON
                raise BundleError("invalid_json", "unexpected data after the bundle")
        except ijson.JSONError as exc:
            overflow = "overflow" in f"{exc} {exc.__context__}"
            if overflow and parse is ijson.basic_parse:
                raise _NumberOverflow() from exc
            if overflow:
                raise BundleError("number_out_of_range", "a number in the upload is beyond the "
                                  "range of a double (for example 1e400)",
                                  offset=stream.consumed) from exc
            raise BundleError(
                "invalid_json",
                f"the upload is not valid JSON (breaks off or goes wrong within the first "
                f"{stream.consumed} bytes): {exc}", offset=stream.consumed) from exc
        except (OSError, EOFError, zlib.error) as exc:
            raise BundleError("invalid_gzip", f"the gzip upload cannot be read: {exc}") from exc
        except SpoolLimit as exc:
            raise BundleError(exc.code, exc.message, offset=stream.consumed) from exc
        except SpoolCancelled:
            pass  # keep what was spooled; the job ends cancelled at its next step
        for spool in spools.values():
            spool.close_batch()
    return spool_result(spools, errors)


