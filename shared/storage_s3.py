"""S3-compatible storage (AWS S3, MinIO, Ceph...) for deployments with workers on many hosts.

Same interface as shared.storage.LocalStorage. Writes are multipart uploads in fixed-size parts
(memory stays at one part), and an object only appears when the upload completes, so a reader
never sees a partial file, as with the local backend's rename. Reads stream. Needs the `[s3]`
extra (boto3); credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID..., instance roles).
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from shared.config import Settings

PART_SIZE = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB, except the last
READ_BUFFER = 1024 * 1024


class S3Storage:
    def __init__(self, bucket: str, endpoint_url: str | None = None, *,
                 part_size: int = PART_SIZE) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        self._client: Any = None
        self._pid = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if not settings.s3_bucket:
            raise RuntimeError("DRIPPULSE_STORAGE=s3 needs DRIPPULSE_S3_BUCKET")
        return cls(settings.s3_bucket, settings.s3_endpoint_url)

    @property
    def client(self) -> Any:
        # a forked worker process must not share its parent's HTTP connection pool
        if self._client is None or self._pid != os.getpid():
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint_url,
                config=Config(s3={"addressing_style": "path"},
                              retries={"max_attempts": 5, "mode": "standard"}))
            self._pid = os.getpid()
        return self._client

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        upload = _MultipartWriter(self.client, self.bucket, key, self.part_size)
        try:
            yield upload  # type: ignore[misc]
        except BaseException:
            upload.abort()
            raise
        upload.complete()

    def open(self, key: str) -> BinaryIO:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return io.BufferedReader(_StreamingRaw(body), READ_BUFFER)  # type: ignore[return-value]

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) with one ranged GET: a batch of a spool file is read without
        streaming everything before it (reading from byte 0 made big imports quadratic)."""
        if end <= start:
            return b""
        body = self.client.get_object(Bucket=self.bucket, Key=key,
                                      Range=f"bytes={start}-{end - 1}")["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def size(self, key: str) -> int:
        return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)  # idempotent in S3

    def local_path(self, key: str) -> None:
        return None


class _MultipartWriter(io.BufferedIOBase):
    """A write-only file that uploads each full part as it fills; small files use one PUT."""

    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        super().__init__()
        self.client, self.bucket, self.key, self.part_size = client, bucket, key, part_size
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        self.position += len(data)
        while len(self.buffer) >= self.part_size:
            self._upload_part(bytes(self.buffer[:self.part_size]))
            del self.buffer[:self.part_size]
        return len(data)

    def _upload_part(self, chunk: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        etag = self.client.upload_part(Bucket=self.bucket, Key=self.key, PartNumber=number,
                                       UploadId=self.upload_id, Body=chunk)["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})

    def complete(self) -> None:
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
        else:
            if self.buffer or not self.parts:
                self._upload_part(bytes(self.buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts})
        self.buffer.clear()

    def abort(self) -> None:
        # an abandoned multipart upload keeps costing storage until it is aborted
        if self.upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                               UploadId=self.upload_id)
            self.upload_id = None
        self.buffer.clear()


class _StreamingRaw(io.RawIOBase):
    """Adapts botocore's StreamingBody to io.RawIOBase so BufferedReader can wrap it."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        data = self.body.read(len(target))
        target[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.body.close()
        super().close()
