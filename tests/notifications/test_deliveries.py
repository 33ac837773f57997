"""Deliveries: made with the final status, sent only after its commit, signed, retried after a
failure with the same id, exactly one success per event, re-sent after a process died between
the commit and the send, and the address checked again at delivery."""
from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa

from shared import db
from shared.jobs import lifecycle
from shared.jobs.dispatch import DELIVER_WEBHOOK_TASK
from shared.jobs.status import JobStatus
from shared.models import webhook_deliveries
from shared.notifications import deliver, deliveries, signing
from tests.conftest import replace_settings
from tests.notifications.conftest import add_webhook, finished_job, running_job


def _deliveries(job_id: uuid.UUID) -> list:
    with db.transaction() as conn:
        return conn.execute(sa.select(webhook_deliveries).where(
            webhook_deliveries.c.job_id == job_id)).all()


def _send(sent: list) -> list[str]:
    """Run the tasks the hook asked for, in-process (what the worker task does)."""
    outcomes = []
    while sent:
        name, args = sent.pop(0)
        assert name == DELIVER_WEBHOOK_TASK
        outcomes.append(deliver.attempt(uuid.UUID(args[0])).outcome)
    return outcomes


def test_delivery_is_signed_and_carries_the_job_json(client, org, allow_private, receiver,
                                                     sent):
    hook = add_webhook(client, org, receiver.url, ["job.succeeded"])
    job_id = finished_job(org["organization_id"])
    assert _send(sent) == ["succeeded"]
    [got] = receiver.received
    delivery_id = got.headers["DripPulse-Delivery"]
    assert got.json["id"] == delivery_id and got.json["event"] == "job.succeeded"
    assert got.json["data"]["id"] == str(job_id) and got.json["data"]["status"] == "succeeded"
    assert got.json["data"] == client.get(f"/api/v1/crm/jobs/{job_id}",
                                          headers=org["headers"]).json
    assert signing.verify(hook["secret"], got.headers["DripPulse-Signature"], got.body)
    assert not signing.verify("whsec_other", got.headers["DripPulse-Signature"], got.body)
    assert got.headers["Content-Type"] == "application/json"
    attempts = client.get(f"/api/v1/crm/webhooks/{hook['id']}/deliveries",
                          headers=org["headers"]).json["items"]
    assert [(a["delivery_id"], a["attempt"], a["status_code"], a["ok"]) for a in attempts] == [
        (delivery_id, 1, 200, True)]
    assert attempts[0]["latency_ms"] >= 0 and attempts[0]["event"] == "job.succeeded"


def test_sent_only_after_the_final_status_commits(client, org, allow_private, receiver, sent):
    add_webhook(client, org, receiver.url)
    job_id = running_job(org["organization_id"])
    with db.transaction() as conn:
        assert lifecycle.finish(job_id, JobStatus.FAILED, {"code": "x", "message": "y"},
                                conn=conn)
        assert sent == []  # still inside the transaction: nothing may leave yet
    assert len(sent) == 1
    # a status change that rolls back sends nothing and leaves no delivery
    job2 = running_job(org["organization_id"])
    try:
        with db.transaction() as conn:
            lifecycle.finish(job2, JobStatus.SUCCEEDED, conn=conn)
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert len(sent) == 1 and _deliveries(job2) == []
    assert _send(sent) == ["succeeded"]
    assert receiver.received[0].json["event"] == "job.failed"


def test_only_subscribed_active_webhooks_get_the_event(client, org, allow_private, receiver,
                                                       sent):
    add_webhook(client, org, receiver.url, ["job.failed"])
    off = add_webhook(client, org, receiver.url, ["job.succeeded"])
    client.patch(f"/api/v1/crm/webhooks/{off['id']}", headers=org["headers"],
                 json={"active": False})
    job_id = finished_job(org["organization_id"], JobStatus.SUCCEEDED)
    assert sent == [] and _deliveries(job_id) == []


def test_cancelling_a_queued_job_notifies(client, org, allow_private, receiver, sent):
    add_webhook(client, org, receiver.url, ["job.cancelled"])
    from shared.services.jobs import create_job

    with db.tenant_transaction(uuid.UUID(org["organization_id"])) as conn:
        job = create_job(conn, uuid.UUID(org["organization_id"]), "export")
    resp = client.post(f"/api/v1/crm/jobs/{job.id}/cancel", headers=org["headers"])
    assert resp.status_code == 200
    assert _send(sent) == ["succeeded"]
    assert receiver.received[0].json["event"] == "job.cancelled"


def test_a_500_is_retried_with_the_same_id_and_one_success(client, org, allow_private,
                                                           receiver, sent):
    hook = add_webhook(client, org, receiver.url)
    receiver.script = [500, 503]
    finished_job(org["organization_id"])
    [(_, [delivery_id])] = sent
    first = deliver.attempt(uuid.UUID(delivery_id))
    assert first.outcome == "pending" and first.retry_in == 1.0  # first retry within 30 s
    assert deliver.attempt(uuid.UUID(delivery_id)).outcome == "not_due"  # not before its time
    time.sleep(1.1)
    second = deliver.attempt(uuid.UUID(delivery_id))
    assert second.outcome == "pending" and second.retry_in == 3.0
    time.sleep(3.1)
    assert deliver.attempt(uuid.UUID(delivery_id)).outcome == "succeeded"
    assert deliver.attempt(uuid.UUID(delivery_id)).outcome == "not_due"  # never twice
    ids = {r.headers["DripPulse-Delivery"] for r in receiver.received}
    bodies = {r.body for r in receiver.received}
    assert ids == {delivery_id} and len(bodies) == 1 and len(receiver.received) == 3
    attempts = client.get(f"/api/v1/crm/webhooks/{hook['id']}/deliveries",
                          headers=org["headers"]).json["items"]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(3, 200), (2, 503),
                                                                     (1, 500)]
    assert attempts[-1]["response_excerpt"] == "receiver says no"


def test_backoff_starts_small_and_stays_within_a_day():
    delays = [deliver.backoff(n, base=5) for n in range(1, 14)]
    assert delays[0] == 5 and delays[1] == 15 and delays == sorted(delays)
    assert max(delays) == 6 * 3600
    total, tries = 0.0, 0
    while total < 24 * 3600:
        tries += 1
        total += deliver.backoff(tries, base=5)
    assert 10 <= tries <= 14


def test_a_process_dying_after_the_commit_still_delivers(client, org, allow_private, receiver):
    """No sender: like a worker killed between the commit and the send. The periodic re-send
    finds the pending delivery and it arrives (at least once, with its idempotency id)."""
    from shared.notifications import hook as notification_hook

    notification_hook.set_sender(None)
    add_webhook(client, org, receiver.url)
    job_id = finished_job(org["organization_id"])
    [row] = _deliveries(job_id)
    assert row.status == "pending" and receiver.received == []
    due = deliveries.due_ids()
    assert row.id in due
    assert deliver.attempt(row.id).outcome == "succeeded"
    assert receiver.received[0].headers["DripPulse-Delivery"] == str(row.id)
    assert row.id not in deliveries.due_ids()


def test_a_worker_killed_mid_attempt_is_retried_after_the_claim_expires(
        client, org, allow_private, receiver):
    add_webhook(client, org, receiver.url)
    job_id = finished_job(org["organization_id"])
    [row] = _deliveries(job_id)
    assert deliveries.claim(row.id) is not None  # claimed, then the worker "died"
    assert row.id not in deliveries.due_ids()
    with db.transaction() as conn:  # time passes: the claim runs out
        conn.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == row.id)
                     .values(next_attempt_at=sa.func.now() - sa.text("interval '1 s'")))
    assert row.id in deliveries.due_ids()
    assert deliver.attempt(row.id).outcome == "succeeded"


def test_the_address_is_checked_again_at_delivery(client, org, fresh_settings, receiver, sent):
    replace_settings(fresh_settings, webhooks_allow_private=True)
    hook = add_webhook(client, org, receiver.url)
    replace_settings(fresh_settings, webhooks_allow_private=False)
    finished_job(org["organization_id"])
    assert _send(sent) == ["pending"]
    assert receiver.received == []
    [attempt] = client.get(f"/api/v1/crm/webhooks/{hook['id']}/deliveries",
                           headers=org["headers"]).json["items"]
    assert attempt["status_code"] is None and attempt["error"].startswith("refused")


def test_redirects_are_not_followed(client, org, allow_private, receiver, sent):
    add_webhook(client, org, receiver.url)
    receiver.script = [302]
    finished_job(org["organization_id"])
    assert _send(sent) == ["pending"]  # a 3xx is a failure, retried later
    assert len(receiver.received) == 1


def test_resend_delivers_the_same_delivery_again(client, org, allow_private, receiver, sent):
    hook = add_webhook(client, org, receiver.url)
    finished_job(org["organization_id"])
    assert _send(sent) == ["succeeded"]
    delivery_id = receiver.received[0].headers["DripPulse-Delivery"]
    resp = client.post(f"/api/v1/crm/webhooks/deliveries/{delivery_id}/resend",
                       headers=org["headers"])
    assert resp.status_code == 202 and resp.json["status"] == "pending"
    assert _send(sent) == ["succeeded"]
    assert [r.headers["DripPulse-Delivery"] for r in receiver.received] == [delivery_id] * 2
    assert json.loads(receiver.received[0].body) == json.loads(receiver.received[1].body)
    assert len(client.get(f"/api/v1/crm/webhooks/{hook['id']}/deliveries",
                          headers=org["headers"]).json["items"]) == 2


def test_another_tenants_delivery_cannot_be_resent(client, org, other_org, allow_private,
                                                   receiver, sent):
    add_webhook(client, other_org, receiver.url)
    finished_job(other_org["organization_id"])
    [(_, [delivery_id])] = sent
    resp = client.post(f"/api/v1/crm/webhooks/deliveries/{delivery_id}/resend",
                       headers=org["headers"])
    assert resp.status_code == 404
