"""Credentials: API keys, JWTs and passwords, each resolving to exactly one organization."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared import db
from shared.config import get_settings
from shared.errors import Unauthorized
from shared.ids import uuid7
from shared.models import api_keys, organizations, users

JWT_AUDIENCE = "drippulse"
# One answer for every credential that does not work (unknown, tampered, revoked, expired, wrong
# audience or key...): the body must not tell an attacker which guess came closest.
INVALID = "Invalid or expired credentials"
JWT_ALGORITHM = "HS256"
_hasher = PasswordHasher()
# Verifying against a fixed hash when the user does not exist keeps timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID
    actor: str  # "api_key:<prefix>", "user:<id>" or "jwt:<sub>"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _secret_hash(secret: str) -> str:
    # API-key secrets are 256-bit random strings: a fast hash is enough, a slow one would only
    # slow every request down.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(conn: sa.Connection, organization_id: uuid.UUID, name: str = "default") -> str:
    """Store a new key's hash and return the key itself: shown once, never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    conn.execute(api_keys.insert().values(
        id=uuid7(), organization_id=organization_id, name=name, prefix=prefix,
        secret_hash=_secret_hash(secret),
    ))
    return f"dp_{prefix}_{secret}"


def revoke_api_key(conn: sa.Connection, organization_id: uuid.UUID, prefix: str) -> bool:
    result = conn.execute(
        api_keys.update()
        .where(api_keys.c.organization_id == organization_id, api_keys.c.prefix == prefix,
               api_keys.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.now())
    )
    return result.rowcount == 1


def _authenticate_api_key(token: str) -> Principal:
    parts = token.split("_", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise Unauthorized(INVALID)
    _, prefix, secret = parts
    with db.transaction() as conn:
        row = conn.execute(
            sa.select(api_keys.c.id, api_keys.c.organization_id, api_keys.c.secret_hash,
                      api_keys.c.revoked_at).where(api_keys.c.prefix == prefix)
        ).one_or_none()
        if row is None or not hmac.compare_digest(row.secret_hash, _secret_hash(secret)):
            raise Unauthorized(INVALID)
        if row.revoked_at is not None:
            raise Unauthorized(INVALID)
        conn.execute(
            api_keys.update().where(api_keys.c.id == row.id)
            .where(sa.or_(api_keys.c.last_used_at.is_(None),
                          api_keys.c.last_used_at < sa.func.now() - sa.text("interval '1 minute'")))
            .values(last_used_at=sa.func.now())
        )
    return Principal(row.organization_id, f"api_key:{prefix}")


def jwt_key() -> str:
    """JWTs are HS256 over SECRET_KEY itself: the API contract (other systems mint them).
    Dashboard sessions sign with a key derived from it instead (api/app.py), so the two never
    share a key."""
    return get_settings().secret_key


def issue_jwt(organization_id: uuid.UUID, subject: str, ttl: timedelta = timedelta(hours=1)) -> str:
    now = datetime.now(UTC)
    claims = {"org": str(organization_id), "sub": subject, "aud": JWT_AUDIENCE,
              "iat": now, "exp": now + ttl}
    return jwt.encode(claims, jwt_key(), algorithm=JWT_ALGORITHM)


# `sub` ends up in the actor of change events and in log lines: printable text, bounded
_SUBJECT = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,255}$")


def _authenticate_jwt(token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, jwt_key(), algorithms=[JWT_ALGORITHM], audience=JWT_AUDIENCE,
            options={"require": ["exp", "org", "sub", "aud"]}, leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized(INVALID) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(INVALID) from exc
    # a token valid until 2100 is a password that never expires: refuse what outlives the cap
    if claims["exp"] - datetime.now(UTC).timestamp() > get_settings().max_jwt_lifetime_seconds:
        raise Unauthorized(INVALID)
    if not isinstance(claims["sub"], str) or not _SUBJECT.match(claims["sub"]):
        raise Unauthorized(INVALID)
    try:
        org = uuid.UUID(str(claims["org"]))
    except ValueError as exc:
        raise Unauthorized(INVALID) from exc
    with db.transaction() as conn:
        exists = conn.execute(sa.select(organizations.c.id).where(organizations.c.id == org)).first()
    if not exists:
        raise Unauthorized(INVALID)
    return Principal(org, f"jwt:{claims['sub']}")


def authenticate_bearer(header: str | None) -> Principal:
    if not header:
        raise Unauthorized("Missing Authorization header")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization must be 'Bearer <API key or JWT>'")
    if token.startswith("dp_"):
        return _authenticate_api_key(token)
    return _authenticate_jwt(token)


def authenticate_user(email: str, password: str) -> dict | None:
    """Dashboard sign-in: the user row on success, None on any failure (no hint which)."""
    with db.transaction() as conn:
        row = conn.execute(
            sa.select(users).where(sa.func.lower(users.c.email) == email.strip().lower())
        ).one_or_none()
        ok = verify_password(row.password_hash if row else None, password)
        if not ok or row is None or not row.is_active:
            return None
        conn.execute(users.update().where(users.c.id == row.id).values(last_login_at=sa.func.now()))
        return dict(row._mapping)


def active_user(user_id: uuid.UUID, organization_id: uuid.UUID) -> dict | None:
    """A signed-in user, still active in that organization, with the organization's name.
    Looked up per request so a deactivated user loses access at once."""
    with db.transaction() as conn:
        row = conn.execute(
            sa.select(users.c.id, users.c.email, users.c.organization_id,
                      organizations.c.name.label("organization_name"))
            .select_from(users.join(organizations, organizations.c.id == users.c.organization_id))
            .where(users.c.id == user_id, users.c.organization_id == organization_id,
                   users.c.is_active.is_(True))
        ).one_or_none()
    return dict(row._mapping) if row else None
