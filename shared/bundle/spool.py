"""Phase 1 of an import: stream-parse the stored upload once and spool each entity's rows.

The parser (ijson, yajl2_c backend) walks the bundle event by event; each row is rebuilt, written
as one NDJSON line to a per-entity spool file in storage, and every `batch_size` rows a batch
boundary (row range + byte range) is recorded. Memory stays flat whatever the bundle size: one
row and the list of batch boundaries (rows / batch_size entries) are all that is held.
"""
from __future__ import annotations

import gzip
import json
import uuid
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson
import orjson
from ijson.common import ObjectBuilder

from shared.entities import BY_PLURAL, ENTITIES
from shared.storage import Storage

GZIP_MAGIC = b"\x1f\x8b"
KNOWN_KEYS = {"version", "exported_at", "organization_id"}
SUPPORTED_VERSION = 1
MAX_STRUCTURAL_ERRORS = 100
_CONTAINER_START = ("start_map", "start_array")
_CONTAINER_END = ("end_map", "end_array")


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


class CountingReader:
    """Counts the bytes the parser has consumed, so a broken bundle is reported with where it
    broke (to within the parser's read buffer)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.consumed += len(chunk)
        return chunk


def spool_key(organization_id: uuid.UUID, job_id: uuid.UUID, plural: str) -> str:
    return f"imports/{organization_id}/{job_id}/{plural}.ndjson"


def open_upload(storage: Storage, key: str) -> BinaryIO:
    """The upload as a byte stream, decompressed when it starts with the gzip magic bytes."""
    raw = storage.open(key)
    head = raw.read(2)
    try:
        raw.seek(0)
    except (AttributeError, OSError):  # a non-seekable backend stream: reopen instead
        raw.close()
        raw = storage.open(key)
    return gzip.GzipFile(fileobj=raw, mode="rb") if head == GZIP_MAGIC else raw


@dataclass
class _EntitySpool:
    key: str
    handle: BinaryIO
    rows: int = 0
    offset: int = 0
    batch_row_start: int = 0
    batch_byte_start: int = 0
    batches: list[dict] = field(default_factory=list)

    def write(self, item: Any, batch_size: int) -> None:
        try:
            line = orjson.dumps(item) + b"\n"
        except TypeError:  # integers beyond 64 bits: the slow path keeps them exact
            line = json.dumps(item).encode() + b"\n"
        self.handle.write(line)
        self.rows += 1
        self.offset += len(line)
        if self.rows - self.batch_row_start >= batch_size:
            self.close_batch()

    def close_batch(self) -> None:
        if self.rows == self.batch_row_start:
            return
        self.batches.append({"seq": len(self.batches), "row_start": self.batch_row_start,
                             "row_count": self.rows - self.batch_row_start,
                             "byte_start": self.batch_byte_start, "byte_end": self.offset})
        self.batch_row_start, self.batch_byte_start = self.rows, self.offset


@dataclass
class SpoolResult:
    totals: dict[str, int]
    batches: dict[str, list[dict]]
    spool_keys: dict[str, str]
    errors: list[dict]


def _skip_value(first_event: str, events) -> None:
    if first_event not in _CONTAINER_START:
        return
    depth = 1
    for _prefix, event, _value in events:
        if event in _CONTAINER_START:
            depth += 1
        elif event in _CONTAINER_END:
            depth -= 1
            if depth == 0:
                return


def _spool_array(plural: str, events, spool: _EntitySpool, batch_size: int) -> None:
    item_prefix = plural + ".item"
    builder: ObjectBuilder | None = None
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            if prefix == item_prefix and event in _CONTAINER_END:
                spool.write(builder.value, batch_size)
                builder = None
        elif event in _CONTAINER_START:
            builder = ObjectBuilder()
            builder.event(event, value)
        elif event == "end_array" and prefix == plural:
            return
        else:  # a scalar where a row belongs: spooled, and reported by the row validator
            spool.write(value, batch_size)


def spool_bundle(storage: Storage, upload_key: str, organization_id: uuid.UUID,
                 job_id: uuid.UUID, batch_size: int) -> SpoolResult:
    """Parse the upload once; return totals, batch boundaries and structural errors."""
    errors: list[dict] = []

    def structural(entity: str | None, fld: str | None, code: str, message: str) -> None:
        if len(errors) < MAX_STRUCTURAL_ERRORS:
            errors.append({"entity": entity, "index": None, "public_id": None, "field": fld,
                           "code": code, "message": message})

    spools: dict[str, _EntitySpool] = {}
    with ExitStack() as stack:
        stream = CountingReader(stack.enter_context(open_upload(storage, upload_key)))
        try:
            events = ijson.parse(stream, use_float=True)
            first = next(events, None)
            if first is None:
                raise BundleError("empty_bundle", "the upload is empty")
            if first[1] != "start_map":
                raise BundleError("invalid_bundle", "the bundle must be a JSON object")
            for prefix, event, value in events:
                if prefix == "" and event == "end_map":
                    break
                if event != "map_key":  # pragma: no cover - ijson always yields keys here
                    continue
                key = value
                _, vevent, vvalue = next(events)
                if key in BY_PLURAL:
                    if vevent != "start_array":
                        structural(key, None, "invalid_bundle", "must be an array of rows; ignored")
                        _skip_value(vevent, events)
                        continue
                    spool = spools.get(key)
                    if spool is None:
                        skey = spool_key(organization_id, job_id, key)
                        spool = spools[key] = _EntitySpool(skey, stack.enter_context(
                            storage.writer(skey)))
                    _spool_array(key, events, spool, batch_size)
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
            raise BundleError(
                "invalid_json",
                f"the upload is not valid JSON (breaks off or goes wrong within the first "
                f"{stream.consumed} bytes): {exc}", offset=stream.consumed) from exc
        except (OSError, EOFError, zlib.error) as exc:
            raise BundleError("invalid_gzip", f"the gzip upload cannot be read: {exc}") from exc
        for spool in spools.values():
            spool.close_batch()
    plurals = [e.plural for e in ENTITIES]
    return SpoolResult(
        totals={p: spools[p].rows if p in spools else 0 for p in plurals},
        batches={p: spools[p].batches for p in plurals if p in spools},
        spool_keys={p: spools[p].key for p in plurals if p in spools},
        errors=errors,
    )


def read_batch_rows(storage: Storage, key: str, byte_start: int, byte_end: int) -> list[Any]:
    """The rows of one batch, read by byte range from the spool file."""
    with storage.open(key) as handle:
        try:
            handle.seek(byte_start)
        except (AttributeError, OSError):
            remaining = byte_start
            while remaining:
                remaining -= len(handle.read(min(remaining, 1 << 20)) or b"x" * remaining)
        data = handle.read(byte_end - byte_start)
    return [_loads(line) for line in data.splitlines()]


def _loads(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # integers beyond 64 bits
        return json.loads(line)
