"""Webhook deliveries: one attempt per task, and the periodic re-send (beat, worker/app.py) of
pending deliveries that are due — retries, and sends a dead process never made."""
from __future__ import annotations

import uuid

from shared.jobs.dispatch import DELIVER_WEBHOOK_TASK, RESEND_WEBHOOKS_TASK
from shared.notifications import deliver, deliveries, hook
from worker.app import celery_app
from worker.job_tasks import enqueue

# jobs that end in this process send their deliveries from here
hook.set_sender(enqueue)

# a retry this soon rides on a delayed message; later ones wait for the periodic re-send, so
# no message sits in Redis past the broker's visibility timeout
COUNTDOWN_LIMIT_SECONDS = 300.0


@celery_app.task(name=DELIVER_WEBHOOK_TASK)
def deliver_webhook(delivery_id: str) -> str:
    result = deliver.attempt(uuid.UUID(delivery_id))
    if result.retry_in is not None and result.retry_in <= COUNTDOWN_LIMIT_SECONDS:
        deliver_webhook.apply_async([delivery_id], countdown=result.retry_in)
    return result.outcome


@celery_app.task(name=RESEND_WEBHOOKS_TASK)
def resend_webhooks() -> int:
    due = deliveries.due_ids()
    for delivery_id in due:
        enqueue(DELIVER_WEBHOOK_TASK, [str(delivery_id)])
    return len(due)
