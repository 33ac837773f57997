"""Submitting other systems' exports over HTTP in the end-to-end tests."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.bundles.helpers import wait_job

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"
IMPORT_URL = "/api/v1/crm/import"


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def folder(name: str, pattern: str = "*") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((FIXTURES / name).glob(pattern))
            if p.is_file()}


def post_zip(client, org, source: str, data: bytes, query: str = "", headers=None):
    return client.post(f"{IMPORT_URL}?source={source}{query}", data=data,
                       headers={**org["headers"], **(headers or {})},
                       content_type="application/zip")


def post_files(client, org, source: str, files: dict[str, bytes], mapping: bytes | None = None,
               query: str = ""):
    data: dict = {"file": [(io.BytesIO(body), name) for name, body in files.items()]}
    if mapping is not None:
        data["mapping"] = (io.BytesIO(mapping), "mapping.json")
    return client.post(f"{IMPORT_URL}?source={source}{query}", data=data,
                       headers=org["headers"], content_type="multipart/form-data")


def finished(client, org, resp, timeout: float = 90) -> dict:
    assert resp.status_code == 202, resp.json
    return wait_job(client, org, resp.json["id"], timeout=timeout)
