"""One delivery attempt: claim the delivery, check its address again, POST the signed body,
log the attempt, and decide what comes next (done, retry later, or give up after a day)."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.config import get_settings
from shared.notifications import addresses, deliveries, http, secret_box, signing

log = logging.getLogger("drippulse.notifications")

RETRY_FOR = timedelta(days=1)
MAX_DELAY_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Result:
    outcome: str  # "not_due" | deliveries.SUCCEEDED | FAILED | PENDING (retry later)
    retry_in: float | None = None


def backoff(attempt: int, base: float | None = None) -> float:
    """Seconds before the next try after attempt `attempt` (1-based): base, 3×base, 9×base…,
    capped at six hours; with the default base of 5 s that is about 12 tries in a day."""
    if base is None:
        base = get_settings().webhook_retry_base_seconds
    return float(min(MAX_DELAY_SECONDS, base * 3 ** max(0, attempt - 1)))


def attempt(delivery_id: uuid.UUID) -> Result:
    claimed = deliveries.claim(delivery_id)
    if claimed is None:
        return Result("not_due")
    delivery, hook = claimed
    body = delivery.body.encode()
    try:
        target = addresses.check(hook.url)
        secret = secret_box.unseal(hook.secret_encrypted)
    except (addresses.UnsafeUrl, secret_box.SecretUnreadable) as exc:
        result = http.Outcome(None, 0, f"refused: {exc}"[:500], None)
    else:
        headers = {signing.DELIVERY_HEADER: str(delivery.id),
                   signing.EVENT_HEADER: delivery.event,
                   signing.SIGNATURE_HEADER: signing.sign(secret, body)}
        result = http.post(target, body, headers)
    if result.ok:
        outcome, retry_in = deliveries.SUCCEEDED, None
    else:
        retry_in = backoff(delivery.attempts)
        due = datetime.now(UTC) + timedelta(seconds=retry_in)
        if due > delivery.created_at + RETRY_FOR:
            outcome, retry_in = deliveries.FAILED, None
        else:
            outcome = deliveries.PENDING
    deliveries.record(delivery, status_code=result.status_code, latency_ms=result.latency_ms,
                      error=result.error, excerpt=result.excerpt, outcome=outcome,
                      retry_in=retry_in)
    log.info("webhook delivery %s attempt %s: %s (%s)", delivery.id, delivery.attempts,
             result.status_code or result.error, outcome)
    return Result(outcome, retry_in)
