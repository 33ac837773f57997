"""Issue 17: an import shows progress while its upload is read (the spool phase), not only once
batches apply. The job JSON carries `reading` ({bytes, bytes_total, rows}), written by the
spool's once-a-second heartbeat, and null once the spool is over.

The spool runs in this process (a local queue, no worker) with the heartbeat interval lowered to
every read, and a spy on the heartbeat fetches the job over the API right after each beat: what
any client polling GET jobs/{id} would have seen at that moment."""
from __future__ import annotations

import gzip
import io
import uuid
import zipfile

import pytest

from bench.generate import write_bundle
from shared.bundle import spool
from shared.bundle.spool_heartbeat import SpoolHeartbeat
from shared.bundle.upload import submit_import
from shared.interop.upload import submit_source_import
from shared.jobs import lifecycle
from shared.jobs import runner as job_runner
from tests.bundles.helpers import rows
from tests.hardening.helpers import LocalQueue

ROWS = 3_000
JOBS = "/api/v1/crm/jobs"


class Killed(BaseException):
    """A worker killed mid-spool (kill -9): nothing after the raise runs, no error is recorded."""


@pytest.fixture
def watched(monkeypatch, client):
    """Beat on every read of the upload; after each beat, the job JSON a client sees."""
    monkeypatch.setattr(spool, "CANCEL_CHECK_SECONDS", 0)
    monkeypatch.setattr(spool, "PARSE_BUFFER", 16 * 1024)  # many reads, so many beats
    seen: list[dict] = []
    real_beat = SpoolHeartbeat.__call__
    state = {"after_beat": None}

    def beat_and_look(self) -> bool:
        cancel = real_beat(self)
        org = state["org"]
        seen.append(client.get(f"{JOBS}/{self.job_id}", headers=org["headers"]).json)
        if state["after_beat"] is not None:
            state["after_beat"](self, len(seen))
        return cancel

    monkeypatch.setattr(SpoolHeartbeat, "__call__", beat_and_look)
    return seen, state


def _submit(org: dict, body: bytes, queue: LocalQueue) -> uuid.UUID:
    job, _ = submit_import(uuid.UUID(org["organization_id"]), "test", io.BytesIO(body),
                           limit=10**9, dry_run=False, idempotency_key=None, expect_gzip=False,
                           enqueue=queue)
    return job.id


def _job(client, org: dict, job_id) -> dict:
    return client.get(f"{JOBS}/{job_id}", headers=org["headers"]).json


def _assert_reading_moves(seen: list[dict], upload_size: int, rows_in_upload: int) -> None:
    readings = [job["reading"] for job in seen]
    assert all(job["status"] == "running" and job["percent"] == 0 for job in seen)
    assert all(r is not None and r["bytes_total"] == upload_size for r in readings), readings[:3]
    assert readings[0]["rows"] == 0  # the first beat, before any row
    assert all(0 <= r["bytes"] <= r["bytes_total"] for r in readings)
    assert all(0 <= r["rows"] <= rows_in_upload for r in readings)
    assert [r["bytes"] for r in readings] == sorted(r["bytes"] for r in readings)
    assert [r["rows"] for r in readings] == sorted(r["rows"] for r in readings)
    assert any(0 < r["rows"] < rows_in_upload for r in readings), readings
    assert readings[-1]["bytes"] > upload_size // 2
    # the bytes go along with the rows: past half the rows, the upload is not all read yet
    # (bytes of another measure, e.g. a gzip's inflated ones, would be at the total by then)
    assert any(r["rows"] > rows_in_upload // 2 and r["bytes"] < r["bytes_total"]
               for r in readings), readings


@pytest.mark.parametrize("compressed", [False, True], ids=["json", "gzip"])
def test_the_job_shows_how_far_reading_the_upload_got(client, org, watched, tmp_path,
                                                      compressed):
    seen, state = watched
    state["org"] = org
    path = tmp_path / "bundle.json"
    write_bundle(path, ROWS)
    body = gzip.compress(path.read_bytes()) if compressed else path.read_bytes()
    queue = LocalQueue()
    job_id = _submit(org, body, queue)
    assert _job(client, org, job_id)["reading"] is None  # queued: nothing read yet

    job_runner.run_job(job_id, queue)  # the spool phase, beating as it reads
    # bytes of the stored upload, so a gzip's count is of its compressed bytes, as its size
    _assert_reading_moves(seen, len(body), ROWS)

    spooled = _job(client, org, job_id)  # batches queued, none applied yet
    assert spooled["status"] == "running" and spooled["reading"] is None
    assert sum(p["total"] for p in spooled["progress"].values()) == ROWS
    queue.drain()
    done = _job(client, org, job_id)
    assert done["status"] == "succeeded" and done["reading"] is None


def test_a_spool_resumed_after_its_worker_died_reads_again_from_zero(client, org, watched,
                                                                     tmp_path):
    seen, state = watched
    state["org"] = org
    path = tmp_path / "bundle.json"
    sizes = write_bundle(path, ROWS)
    body = path.read_bytes()

    def die_mid_spool(_beat, _beats: int) -> None:
        if seen[-1]["reading"]["rows"] > 0:
            raise Killed()

    state["after_beat"] = die_mid_spool
    queue = LocalQueue()
    job_id = _submit(org, body, queue)
    with pytest.raises(Killed):
        job_runner.run_job(job_id, queue)
    left = _job(client, org, job_id)
    # the dead run's last figures stay on the running job until it is resumed
    assert left["status"] == "running" and left["reading"]["rows"] > 0

    state["after_beat"] = None
    seen.clear()
    job_runner.run_job(job_id, queue, stalled=True)  # the sweeper's redelivery
    assert seen[0]["reading"]["rows"] == 0 and seen[0]["reading"]["bytes"] < left["reading"]["bytes"]
    _assert_reading_moves(seen, len(body), ROWS)
    queue.drain()
    done = _job(client, org, job_id)
    assert done["status"] == "succeeded" and done["reading"] is None and done["attempts"] == 2
    # every row read once: the dead run's partial spool counts for nothing
    assert {p: c["total"] for p, c in done["progress"].items()} == sizes
    assert len(rows(org, "accounts")) == sizes["accounts"]


def _companies_zip(count: int) -> tuple[bytes, int]:
    csv = "Record ID,Company name,Company Domain Name\n" + "".join(
        f"{1000 + i},Company {i},c{i}.example\n" for i in range(count))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("companies.csv", csv)
    return buffer.getvalue(), len(csv.encode())


def _submit_source(org: dict, data: bytes, tmp_path, queue: LocalQueue) -> uuid.UUID:
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    job, _ = submit_source_import(uuid.UUID(org["organization_id"]), "test", path,
                                  source="hubspot", dry_run=False, create_stages=False,
                                  idempotency_key=None, limit=10**9, enqueue=queue)
    return job.id


def test_a_converted_export_shows_reading_too(client, org, watched, tmp_path):
    seen, state = watched
    state["org"] = org
    companies = 10 * ROWS  # the CSV reader reads 64 KB ahead: a file many times that
    data, inflated = _companies_zip(companies)
    queue = LocalQueue()
    job_id = _submit_source(org, data, tmp_path, queue)
    job_runner.run_job(job_id, queue)
    # another system's export: the bytes are those of the files inside its zip
    _assert_reading_moves(seen, inflated, companies)
    spooled = _job(client, org, job_id)
    assert spooled["status"] == "running" and spooled["reading"] is None
    assert spooled["progress"]["accounts"]["total"] == companies
    lifecycle.request_cancel(uuid.UUID(org["organization_id"]), job_id)  # no need to apply it
    queue.drain()


def test_a_cancel_while_a_converted_export_is_read_stops_the_reading(client, org, watched,
                                                                     tmp_path):
    seen, state = watched
    state["org"] = org

    def cancel_once_rows_are_read(beat: SpoolHeartbeat, _beats: int) -> None:
        if seen[-1]["reading"]["rows"] > 0 and not state.get("cancelled"):
            state["cancelled"] = True
            lifecycle.request_cancel(beat.organization_id, beat.job_id)

    state["after_beat"] = cancel_once_rows_are_read
    data, _ = _companies_zip(ROWS)
    queue = LocalQueue()
    job_id = _submit_source(org, data, tmp_path, queue)
    job_runner.run_job(job_id, queue)
    queue.drain()
    done = _job(client, org, job_id)
    assert done["status"] == "cancelled" and done["reading"] is None
    # the spool stopped where the cancel found it, instead of reading the whole export
    assert 0 < done["progress"]["accounts"]["total"] < ROWS
    assert rows(org, "accounts") == []
