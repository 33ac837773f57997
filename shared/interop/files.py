"""The files of an upload as a SourceFiles: a zip (what the API stores for every non-bundle
upload) or a directory (the CLI's `convert`, tests).

A zip is checked before a job exists (`inspect_zip`): entry names with `..`, absolute paths or
drive letters, more than MAX_ENTRIES entries, and a declared inflated size past the limit are
refused. While converting, the bytes actually inflated are counted too (a zip can lie about its
sizes), so a bomb fails its job at the limit instead of filling a worker's disk or memory.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from shared.interop.source import ConversionError

MAX_ENTRIES = 1000
IGNORED_PREFIXES = ("__MACOSX/",)


@dataclass
class ZipProblem(Exception):
    code: str
    message: str
    too_large: bool = False


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return (path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")
            or "\x00" in name)


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [i for i in archive.infolist() if not i.is_dir()
            and not i.filename.startswith(IGNORED_PREFIXES)
            and not PurePosixPath(i.filename).name.startswith("._")]


def inspect_zip(path_or_stream: str | os.PathLike | BinaryIO, max_inflated: int) -> list[str]:
    """The member names of a zip, or ZipProblem saying why it is refused."""
    try:
        archive = zipfile.ZipFile(path_or_stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ZipProblem("invalid_zip", f"the upload is not a readable zip file ({exc})") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ZipProblem("too_many_entries",
                             f"the zip holds {len(infos)} entries; at most {MAX_ENTRIES}")
        for info in infos:
            if _unsafe(info.filename):
                raise ZipProblem("unsafe_zip_entry",
                                 f"zip entry {info.filename!r} is an absolute path or leaves "
                                 "the archive ('..'): refused")
            if info.flag_bits & 0x1:
                raise ZipProblem("encrypted_zip", f"zip entry {info.filename!r} is encrypted")
        declared = sum(i.file_size for i in infos)
        if declared > max_inflated:
            raise ZipProblem("upload_too_large",
                             f"the zip inflates to {declared} bytes; at most {max_inflated}",
                             too_large=True)
        members = _members(archive)
        if not members:
            raise ZipProblem("empty_zip", "the zip holds no files")
        return [i.filename for i in members]


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class ReadOnlyStream:
    """The file-object surface TextIOWrapper, csv and ijson need over a `raw` binary stream;
    a subclass defines `read` (what it counts or checks on the way)."""

    raw: BinaryIO

    def read(self, size: int = -1) -> bytes:
        raise NotImplementedError

    def read1(self, size: int = -1) -> bytes:
        return self.read(size if size and size > 0 else 64 * 1024)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def close(self) -> None:
        self.raw.close()

    def flush(self) -> None:
        pass

    def __enter__(self) -> ReadOnlyStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CountedStream(ReadOnlyStream):
    """A member's stream that fails once the job's inflated bytes pass the limit."""

    def __init__(self, raw: BinaryIO, budget: _Budget, name: str) -> None:
        self.raw, self.budget, self.name = raw, budget, name

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.raw.read(size)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ConversionError("invalid_zip", f"{self.name}: cannot be read from the zip "
                                  f"({exc})") from exc
        self.budget.used += len(data)
        if self.budget.used > self.budget.limit:
            raise ConversionError("upload_too_large", f"the zip inflates past {self.budget.limit} "
                                  "bytes (more than its entries declare)")
        return data


class ZipSourceFiles:
    """The members of a zip on local disk (directories and macOS metadata left out)."""

    def __init__(self, path: str | os.PathLike, max_inflated: int) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ConversionError("invalid_zip", f"the upload is not a readable zip ({exc})") \
                from exc
        self._budget = _Budget(max_inflated)
        self._names = [i.filename for i in _members(self._zip)]

    def names(self) -> list[str]:
        return list(self._names)

    def open(self, name: str) -> BinaryIO:
        return _CountedStream(self._zip.open(name), self._budget, name)  # type: ignore[return-value]

    def close(self) -> None:
        self._zip.close()


class DirectorySourceFiles:
    """The files below a directory, or an explicit list of files (names relative to `root`)."""

    def __init__(self, root: str | os.PathLike, files: list[Path] | None = None) -> None:
        self.root = Path(root)
        paths = files if files is not None else sorted(p for p in self.root.rglob("*")
                                                       if p.is_file())
        self._paths = {str(p.relative_to(self.root)) if p.is_relative_to(self.root)
                       else p.name: p for p in paths}

    def names(self) -> list[str]:
        return list(self._paths)

    def open(self, name: str) -> BinaryIO:
        return open(self._paths[name], "rb")  # noqa: SIM115 - the caller closes it
