"""Where uploads and export files live: one interface, a local-directory backend by default.

Keys are relative paths like `uploads/<org>/<job>.json`. Writes are atomic: a reader never sees a
partial file, so no job row can point at one.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from shared.config import get_settings

CHUNK = 1024 * 1024


class Storage(Protocol):
    def writer(self, key: str) -> contextmanager: ...  # yields a binary file; commits on success
    def open(self, key: str) -> BinaryIO: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class LocalStorage:
    """A directory; share it between hosts (NFS and the like) or use the S3 backend."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            with open(tmp, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def local_path(self, key: str) -> Path | None:
        """A filesystem path when the backend has one (lets the reader memory-map or seek)."""
        return self._path(key)

    def remove_stale_parts(self, older_than_seconds: float) -> int:
        """Delete `.part` files of writers killed mid-write (their `finally` never ran),
        untouched for `older_than_seconds`: a live writer keeps its file's mtime fresh."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        if not self.root.is_dir():
            return 0
        for path in self.root.rglob(".*.part"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # its writer finished or another sweep took it
                pass
        return removed


def copy_stream(source: BinaryIO, target: BinaryIO, limit: int | None = None) -> int:
    """Copy in chunks; raise OverflowError past `limit` bytes."""
    total = 0
    while chunk := source.read(CHUNK):
        total += len(chunk)
        if limit is not None and total > limit:
            raise OverflowError(total)
        target.write(chunk)
    return total


_storage: Storage | None = None


def get_storage() -> Storage:
    global _storage
    settings = get_settings()
    if _storage is None or getattr(_storage, "_settings", None) is not settings:
        if settings.storage_backend == "s3":
            from shared.storage_s3 import S3Storage

            _storage = S3Storage.from_settings(settings)
        else:
            _storage = LocalStorage(settings.storage_dir)
        _storage._settings = settings  # type: ignore[attr-defined]
    return _storage


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
