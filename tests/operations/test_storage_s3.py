"""The S3 backend against moto's S3 server: same behaviour as the local directory."""
from __future__ import annotations

import os

import boto3  # noqa: E402,F401  (test extras: a missing tool fails the run, not skips it)
import moto.server as moto_server  # noqa: E402
import pytest

from shared.storage_s3 import S3Storage  # noqa: E402

PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint():
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    # port 0: the OS picks a free port, no race with other test sessions
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def storage(s3_endpoint):
    store = S3Storage("drippulse-test", s3_endpoint, part_size=PART)
    store.client.create_bucket(Bucket="drippulse-test")
    return store


def test_small_file_round_trip(storage):
    key = "uploads/org/job.json"
    assert not storage.exists(key)
    with storage.writer(key) as handle:
        handle.write(b'{"version": 1, ')
        handle.write(b'"accounts": []}')
    assert storage.exists(key)
    assert storage.size(key) == 30
    with storage.open(key) as handle:
        assert handle.read() == b'{"version": 1, "accounts": []}'
    storage.delete(key)
    storage.delete(key)  # deleting twice is fine
    assert not storage.exists(key)


def test_large_file_goes_up_in_parts_and_streams_back(storage):
    key = "exports/org/big.json"
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with storage.writer(key) as handle:
        for _ in range(11):
            handle.write(chunk)
        assert handle.parts and len(handle.parts) == 2  # the third part goes up on completion
    assert storage.size(key) == 11 * len(chunk)
    with storage.open(key) as handle:
        first = handle.read(10)
        assert first == chunk[:10]
        total = len(first)
        while block := handle.read(1024 * 1024):
            total += len(block)
    assert total == 11 * len(chunk)


def test_failed_write_leaves_no_object(storage):
    key = "uploads/org/broken.json"
    with pytest.raises(RuntimeError):
        with storage.writer(key) as handle:
            handle.write(b"x" * (PART + 10))
            raise RuntimeError("client went away")
    assert not storage.exists(key)
    uploads = storage.client.list_multipart_uploads(Bucket="drippulse-test").get("Uploads", [])
    assert [u for u in uploads if u["Key"] == key] == []


def test_settings_select_the_s3_backend(storage, s3_endpoint, fresh_settings):
    from shared.storage import get_storage
    from tests.conftest import replace_settings

    replace_settings(fresh_settings, storage_backend="s3", s3_bucket="drippulse-test",
                     s3_endpoint_url=s3_endpoint)
    chosen = get_storage()
    assert isinstance(chosen, S3Storage)
    with chosen.writer("k") as handle:
        handle.write(b"hello")
    assert storage.open("k").read() == b"hello"


def test_a_batch_is_read_with_one_ranged_get_not_from_byte_0(storage):
    from shared.bundle.spool_files import read_batch_rows

    key = "imports/org/job/accounts.ndjson"
    lines = [b'{"name": "row %d"}\n' % i for i in range(1000)]
    with storage.writer(key) as handle:
        handle.write(b"".join(lines))
    start = sum(len(line) for line in lines[:700])
    end = start + sum(len(line) for line in lines[700:710])
    calls = []
    original = storage.client.get_object
    storage.client.get_object = lambda **kw: calls.append(kw) or original(**kw)
    rows = read_batch_rows(storage, key, start, end)
    assert [r["name"] for r in rows] == [f"row {i}" for i in range(700, 710)]
    assert [c.get("Range") for c in calls] == [f"bytes={start}-{end - 1}"]
