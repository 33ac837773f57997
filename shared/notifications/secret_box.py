"""Webhook secrets: made once, shown once, stored encrypted.

The worker must compute an HMAC with the secret, so a one-way hash (as for API keys) cannot be
stored. Fernet with a key derived from SECRET_KEY keeps a database dump alone from revealing
the secrets; rotating SECRET_KEY makes stored ones unreadable (their deliveries fail with
`secret_unreadable` until the webhook is created again).
"""
from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken

from shared.config import get_settings

PREFIX = "whsec_"


class SecretUnreadable(Exception):
    """The stored secret was encrypted under another SECRET_KEY."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"drippulse-webhook-secret:" + get_settings().secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("the webhook secret cannot be decrypted with this SECRET_KEY"
                               ) from exc
