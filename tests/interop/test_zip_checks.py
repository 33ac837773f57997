"""The zip an import from another system travels in: what is refused before a job exists, and
the inflated-bytes budget that holds while converting."""
from __future__ import annotations

import io
import zipfile

import pytest

from shared.interop.files import ZipProblem, ZipSourceFiles, inspect_zip
from shared.interop.source import ConversionError


def _zip(path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("name", ["../x.csv", "a/../../x.csv", "/etc/passwd", "C:\\x.csv",
                                  "..\\..\\x.csv"])
def test_entries_leaving_the_archive_are_refused(tmp_path, name):
    _zip(tmp_path / "u.zip", {name: b"a\n"})
    with pytest.raises(ZipProblem) as caught:
        inspect_zip(tmp_path / "u.zip", 10**6)
    assert caught.value.code == "unsafe_zip_entry"


def test_declared_size_past_the_limit_is_too_large(tmp_path):
    _zip(tmp_path / "u.zip", {"Account.csv": b"0" * 50_000})
    with pytest.raises(ZipProblem) as caught:
        inspect_zip(tmp_path / "u.zip", 10_000)
    assert caught.value.too_large
    assert inspect_zip(tmp_path / "u.zip", 60_000) == ["Account.csv"]


def test_directories_and_macos_metadata_are_not_files(tmp_path):
    with zipfile.ZipFile(tmp_path / "u.zip", "w") as archive:
        archive.writestr("export/", b"")
        archive.writestr("export/Contact.csv", b"Id\n")
        archive.writestr("__MACOSX/export/._Contact.csv", b"junk")
        archive.writestr("export/._Lead.csv", b"junk")
    assert inspect_zip(tmp_path / "u.zip", 10**6) == ["export/Contact.csv"]
    assert ZipSourceFiles(tmp_path / "u.zip", 10**6).names() == ["export/Contact.csv"]


def test_not_a_zip_and_an_empty_zip_are_refused(tmp_path):
    (tmp_path / "garbage.zip").write_bytes(b"PK\x03\x04" + bytes(range(256)))
    with pytest.raises(ZipProblem) as caught:
        inspect_zip(tmp_path / "garbage.zip", 10**6)
    assert caught.value.code == "invalid_zip"
    _zip(tmp_path / "empty.zip", {})
    with pytest.raises(ZipProblem) as caught:
        inspect_zip(tmp_path / "empty.zip", 10**6)
    assert caught.value.code == "empty_zip"


def test_reading_past_the_inflated_budget_fails_the_conversion(tmp_path):
    _zip(tmp_path / "u.zip", {"a.csv": b"x" * 30_000, "b.csv": b"y" * 30_000})
    files = ZipSourceFiles(tmp_path / "u.zip", 50_000)  # each fits, both do not
    with files.open("a.csv") as handle:
        assert len(handle.read()) == 30_000
    with pytest.raises(ConversionError) as caught, files.open("b.csv") as handle:
        while handle.read(4096):
            pass
    assert caught.value.code == "upload_too_large"


def test_a_text_stream_can_wrap_a_member(tmp_path):
    _zip(tmp_path / "u.zip", {"a.csv": "name\nÉcole\n".encode()})
    files = ZipSourceFiles(tmp_path / "u.zip", 10**6)
    with files.open("a.csv") as handle:
        assert io.TextIOWrapper(handle, encoding="utf-8").read() == "name\nÉcole\n"
