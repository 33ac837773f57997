"""The files a user names for `import --source` and `convert`: collected, packed into the one
zip an interop import uploads, or read in place by a local conversion.

A directory contributes every file below it (named relative to it; hidden files such as
.DS_Store or a .git folder are left out), a plain file its own name, and a .zip its members. A
CSV mapping given with --mapping travels as `mapping.json` at the root of the zip, replacing a
mapping.json the inputs may hold at any depth (the flag says which one the user means). Everything is
streamed file by file: no input is ever held in memory whole.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

MAPPING_NAME = "mapping.json"
MAX_MAPPING_BYTES = 1024 * 1024  # what the server accepts: a mapping is a page of JSON
CHUNK = 256 * 1024
# Deflate level 1: CSV and JSON still shrink several times, at a speed that keeps packing a
# multi-gigabyte export from taking longer than uploading it.
ZIP_LEVEL = 1
# zipfile must be told up front that an entry may pass 4 GiB; any input past half of that gets
# the zip64 header (incompressible data can grow a little when deflated).
ZIP64_THRESHOLD = zipfile.ZIP64_LIMIT // 2
MACOS_METADATA = "__MACOSX/"

PathLike = str | os.PathLike


class InputError(ValueError):
    """The named inputs cannot make an upload: a broken zip, two files with one name, a mapping
    that is not JSON."""


@dataclass(frozen=True)
class LocalFile:
    name: str  # the name inside the upload (forward slashes)
    path: Path  # the file on disk, or the zip holding it
    member: str | None = None  # the zip member, when it came out of a zip
    size: int = 0

    def open(self) -> BinaryIO:
        if self.member is None:
            return self.path.open("rb")
        # the member stream keeps the archive's file open after the ZipFile is closed
        with zipfile.ZipFile(self.path) as archive:
            return archive.open(self.member)  # type: ignore[return-value]


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _directory_files(root: Path) -> list[LocalFile]:
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not _hidden(relative):
            found.append(LocalFile(relative.as_posix(), path, size=path.stat().st_size))
    return found


def _zip_members(path: Path) -> list[LocalFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip file ({exc})") from exc
    return [LocalFile(i.filename, path, i.filename, i.file_size) for i in infos
            if not i.is_dir() and not i.filename.startswith(MACOS_METADATA)
            and not PurePosixPath(i.filename).name.startswith("._")]


def is_zip_path(path: PathLike) -> bool:
    return Path(path).suffix.lower() == ".zip" and Path(path).is_file()


def collect(paths: Sequence[PathLike]) -> list[LocalFile]:
    """The files the paths name, in the order given (a directory's sorted by name)."""
    files: list[LocalFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(_directory_files(path))
        elif is_zip_path(path):
            files.extend(_zip_members(path))
        elif path.is_file():
            files.append(LocalFile(path.name, path, size=path.stat().st_size))
        else:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    seen: dict[str, LocalFile] = {}
    for item in files:
        if item.name in seen:
            raise InputError(f"two inputs would both be named {item.name!r} in the upload: "
                             f"{_describe(seen[item.name])} and {_describe(item)}")
        seen[item.name] = item
    if not files:
        raise InputError("no files to upload in " + ", ".join(str(p) for p in paths))
    return files


def _describe(item: LocalFile) -> str:
    return f"{item.path}:{item.member}" if item.member else str(item.path)


def is_mapping_name(name: str) -> bool:
    """The server takes any file named mapping.json (any case, any folder) for the mapping."""
    return PurePosixPath(name).name.lower() == MAPPING_NAME


def read_mapping(path: PathLike) -> Any:
    """The mapping file parsed, so a typo fails here rather than after an upload."""
    if Path(path).stat().st_size > MAX_MAPPING_BYTES:
        raise InputError(f"{path}: larger than {MAX_MAPPING_BYTES} bytes; not a mapping")
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text") from exc


def without_mapping(files: list[LocalFile], mapping: PathLike | None) -> list[LocalFile]:
    """The data files: no mapping.json, and not the --mapping file (whatever its name), which
    the mapping may well sit beside in the export's directory."""
    mapping_file = Path(mapping).resolve() if mapping is not None else None
    return [f for f in files if not is_mapping_name(f.name)
            and not (f.member is None and f.path.resolve() == mapping_file)]


@dataclass
class PackedUpload:
    """The zip to upload; a temporary one is deleted by close()."""

    path: Path
    names: list[str] = field(default_factory=list)
    temporary: bool = False

    def close(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> PackedUpload:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def pack(paths: Sequence[PathLike], mapping: PathLike | None = None) -> PackedUpload:
    """One zip holding every input (and the mapping as mapping.json); a lone .zip without a
    mapping is used as it is."""
    if mapping is not None:
        read_mapping(mapping)
    if len(paths) == 1 and mapping is None and is_zip_path(paths[0]):
        members = _zip_members(Path(paths[0]))
        if not members:
            raise InputError(f"{paths[0]}: the zip holds no files")
        return PackedUpload(Path(paths[0]), [m.name for m in members])
    files = collect(paths)
    if mapping is not None:
        # the mapping may live among the inputs (under any name): it is sent once, as itself
        files = without_mapping(files, mapping)
        # first in the zip, so that it is the one found even by a reader taking the first match
        files.insert(0, LocalFile(MAPPING_NAME, Path(mapping),
                                  size=Path(mapping).stat().st_size))
    handle = tempfile.NamedTemporaryFile(prefix="drippulse-upload-", suffix=".zip", delete=False)
    packed = PackedUpload(Path(handle.name), [f.name for f in files], temporary=True)
    try:
        with handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED,
                                     compresslevel=ZIP_LEVEL) as archive:
            for item in files:
                with item.open() as source, archive.open(
                        item.name, "w", force_zip64=item.size > ZIP64_THRESHOLD) as target:
                    shutil.copyfileobj(source, target, CHUNK)
    except BaseException:
        packed.close()
        raise
    return packed


class LocalSourceFiles:
    """The inputs as the SourceFiles a converter reads (shared.interop.source)."""

    def __init__(self, files: list[LocalFile]) -> None:
        self._files = {f.name: f for f in files}

    def names(self) -> list[str]:
        return list(self._files)

    def open(self, name: str) -> BinaryIO:
        return self._files[name].open()
