"""The spool files of an import: one NDJSON file per entity, cut into batches by row and byte
range, and read back one batch at a time.

Both phase-1 paths write them — the bundle parser (shared.bundle.spool) and the converters of
other systems' exports (spool_converted below) — so the batches cannot tell where rows came
from. Memory stays flat: one row and the list of batch boundaries are all a spool holds.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from shared import jsontext
from shared.bundle.spool_guard import SpoolCancelled
from shared.config import get_settings
from shared.entities import ENTITIES
from shared.interop.source import ORIGIN
from shared.storage import Storage
from shared.storage_keys import spool_key

MAX_SYSTEMS = 20  # external systems tracked per entity of a converted upload
# A batch ends at batch_size rows or at this many bytes of spooled rows, whichever comes first:
# rows of up to a few MB each would otherwise make one batch (read, validated and written in one
# transaction) cost a worker gigabytes. DRIPPULSE_BATCH_MAX_BYTES overrides it.
BATCH_MAX_BYTES = 32 * 1024 * 1024


@dataclass
class EntitySpool:
    key: str
    handle: BinaryIO
    rows: int = 0
    offset: int = 0
    batch_row_start: int = 0
    batch_byte_start: int = 0
    batches: list[dict] = field(default_factory=list)
    max_bytes: int = BATCH_MAX_BYTES

    def write(self, item: Any, batch_size: int) -> None:
        line = jsontext.dumps(item) + b"\n"
        self.handle.write(line)
        self.rows += 1
        self.offset += len(line)
        if (self.rows - self.batch_row_start >= batch_size
                or self.offset - self.batch_byte_start >= self.max_bytes):
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
    # converted uploads: the external systems of each entity's rows (see runner._spool)
    external_systems: dict[str, set[str]] | None = None


def spool_converted(storage: Storage, rows: Iterable[Any], organization_id: uuid.UUID,
                    job_id: uuid.UUID, batch_size: int,
                    spools: dict[str, EntitySpool] | None = None) -> SpoolResult:
    """Spool rows a converter yields (shared.interop), in any entity order: each goes to its
    entity's spool file with its origin (file and row) kept for its row errors. `spools`, when
    given, is filled as entities appear (whoever reports progress counts their rows); a cancel
    raised while the rows are read (SpoolCancelled) keeps what was spooled so far."""
    spools = {} if spools is None else spools
    systems: dict[str, set[str]] = {}
    with ExitStack() as stack:
        try:
            for converted in rows:
                spool = spools.get(converted.entity)
                if spool is None:
                    skey = spool_key(organization_id, job_id, converted.entity)
                    spool = spools[converted.entity] = EntitySpool(skey, stack.enter_context(
                        storage.writer(skey)), max_bytes=get_settings().batch_max_bytes)
                    systems[converted.entity] = set()
                spool.write({**converted.row, ORIGIN: converted.origin}, batch_size)
                system = converted.row.get("external_system")
                seen = systems[converted.entity]
                if type(system) is str and system not in seen and len(seen) < MAX_SYSTEMS:
                    seen.add(system)
        except SpoolCancelled:
            pass  # the job's next step sees the request and ends it cancelled
        for spool in spools.values():
            spool.close_batch()
    result = spool_result(spools, [])
    result.external_systems = systems
    return result


def spool_result(spools: dict[str, EntitySpool], errors: list[dict]) -> SpoolResult:
    plurals = [e.plural for e in ENTITIES]
    return SpoolResult(
        totals={p: spools[p].rows if p in spools else 0 for p in plurals},
        batches={p: spools[p].batches for p in plurals if p in spools},
        spool_keys={p: spools[p].key for p in plurals if p in spools},
        errors=errors,
    )


def read_batch_rows(storage: Storage, key: str, byte_start: int, byte_end: int) -> list[Any]:
    """The rows of one batch, read by byte range from the spool file (a ranged GET where the
    storage has one, else a seek)."""
    read_range = getattr(storage, "read_range", None)
    if read_range is not None:
        data = read_range(key, byte_start, byte_end)
    else:
        with storage.open(key) as handle:
            handle.seek(byte_start)
            data = handle.read(byte_end - byte_start)
    lines = data.splitlines()
    if _LONG_DIGITS.search(data) is None:
        # the common case: no line needs the exact path, so one scan of the batch replaces a
        # regex search per line
        try:
            return [orjson.loads(line) for line in lines]
        except orjson.JSONDecodeError:
            pass
    return [_loads(line) for line in lines]


# 19+ digits in a row may be an integer beyond 64 bits, which orjson reads as a float (silently
# losing digits); such lines take the exact stdlib path. Digits inside strings only cost speed.
_LONG_DIGITS = re.compile(rb"[0-9]{19,}")


def _loads(line: bytes) -> Any:
    if _LONG_DIGITS.search(line):
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # e.g. unpaired surrogates, which the stdlib reads
        return json.loads(line)
