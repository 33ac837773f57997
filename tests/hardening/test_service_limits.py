"""Issue 19: limits of the shared services themselves (Celery task time limits, fair queueing of
batches across organizations, the active-jobs cap whatever the headers)."""
from __future__ import annotations

import io

from werkzeug.test import EnvironBuilder, run_wsgi_app

from shared import config
from tests.conftest import replace_settings


def test_celery_tasks_have_soft_and_hard_time_limits(settings):
    from worker.app import make_celery

    conf = make_celery().conf
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_time_limit < settings.visibility_timeout_seconds
    assert conf.task_soft_time_limit == settings.task_soft_time_limit


def test_time_limits_default_under_the_visibility_timeout():
    settings = config.load({"DRIPPULSE_VISIBILITY_TIMEOUT": "1000"})
    settings.check()
    assert settings.task_time_limit < 1000
    bad = config.load({"DRIPPULSE_TASK_SOFT_TIME_LIMIT": "5000"})
    try:
        bad.check()
    except config.ConfigError as exc:
        assert "DRIPPULSE_TASK_TIME_LIMIT" in str(exc)
    else:
        raise AssertionError("a time limit over the visibility timeout must be refused")


def test_an_idempotency_key_does_not_skip_the_active_jobs_cap(client, org, fresh_settings,
                                                              monkeypatch):
    replace_settings(fresh_settings, max_active_jobs_per_org=2)
    # the jobs must stay queued: a running session worker would finish them between requests
    monkeypatch.setattr("api.routes.bundles_import.enqueue", lambda name, args: None)
    body = b'{"version": 1, "accounts": []}'
    headers = org["headers"] | {"Content-Type": "application/json"}
    answers = [client.post("/api/v1/crm/import", data=body,
                           headers=headers | {"Idempotency-Key": f"fresh-{i}"}).status_code
               for i in range(4)]
    assert answers == [202, 202, 429, 429]
    # a replay of a key already used still answers with its job, whatever the load
    replay = client.post("/api/v1/crm/import", data=body,
                         headers=headers | {"Idempotency-Key": "fresh-0"})
    assert replay.status_code == 200


class _Counting(io.RawIOBase):
    """A request body that counts how much of it the server read."""

    def __init__(self, data: bytes) -> None:
        self.data, self.read_bytes = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data[self.read_bytes:self.read_bytes + len(buffer)]
        buffer[:len(chunk)] = chunk
        self.read_bytes += len(chunk)
        return len(chunk)


def test_chunked_multipart_stops_at_the_upload_limit(app, org, fresh_settings):
    limit = 1_000_000
    replace_settings(fresh_settings, max_upload_bytes=limit)
    boundary = "b0undary"
    data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"b.json\"\r\nContent-Type: application/json\r\n\r\n").encode() \
        + b'{"version": 1, "accounts": [' + b" " * (20 * limit) + b"]}" \
        + f"\r\n--{boundary}--\r\n".encode()
    for source in (None, "csv"):
        body = _Counting(data)
        url = "/api/v1/crm/import" + (f"?source={source}" if source else "")
        environ = EnvironBuilder(path=url, method="POST", input_stream=io.BytesIO(b""),
                                 headers=org["headers"] | {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Transfer-Encoding": "chunked"}).get_environ()
        # chunked: no Content-Length, the server says where the body ends (gunicorn does)
        environ.pop("CONTENT_LENGTH", None)
        environ.update({"wsgi.input": body, "wsgi.input_terminated": True})
        app_iter, status, headers = run_wsgi_app(app, environ)
        answer = b"".join(app_iter)
        assert status.startswith("413"), (source, status, answer[:300])
        assert headers.get("Content-Type") == "application/json", answer[:300]
        assert body.read_bytes < 2 * limit, (source, body.read_bytes)
