"""Organizations, their users and their default pipeline."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared import auth, db
from shared.entities import pipelines, stages
from shared.errors import Conflict, ValidationFailed
from shared.fields import EMAIL_RE
from shared.ids import mint_public_id, uuid7
from shared.models import organizations, users

DEFAULT_STAGES: tuple[tuple[str, str], ...] = (
    ("Unassigned", "open"),
    ("Prospect", "open"),
    ("Qualification", "open"),
    ("Proposal", "open"),
    ("Negotiation", "open"),
    ("Won", "won"),
    ("Lost", "lost"),
)


def create_pipeline(conn: sa.Connection, organization_id: uuid.UUID, name: str,
                    stage_specs: tuple[tuple[str, str], ...] = DEFAULT_STAGES,
                    is_default: bool = False) -> uuid.UUID:
    pipeline_id = uuid7()
    conn.execute(pipelines.insert().values(
        id=pipeline_id, organization_id=organization_id, public_id=mint_public_id("pipeline"),
        name=name, is_default=is_default,
    ))
    conn.execute(stages.insert(), [
        {"id": uuid7(), "organization_id": organization_id, "pipeline_id": pipeline_id,
         "public_id": mint_public_id("stage"), "name": stage_name, "position": position,
         "kind": kind}
        for position, (stage_name, kind) in enumerate(stage_specs)
    ])
    return pipeline_id


def create_user(conn: sa.Connection, organization_id: uuid.UUID, email: str, password: str,
                name: str | None = None) -> uuid.UUID:
    email = email.strip()
    problems: dict[str, list[str]] = {}
    if not EMAIL_RE.match(email):
        problems["email"] = ["must be an email address"]
    if len(password) < 8:
        problems["password"] = ["must be at least 8 characters"]
    if problems:
        raise ValidationFailed("Invalid user", problems)
    taken = conn.execute(
        sa.select(users.c.id).where(sa.func.lower(users.c.email) == email.lower())
    ).first()
    if taken:
        raise Conflict("A user with this email already exists", {"email": email})
    user_id = uuid7()
    conn.execute(users.insert().values(
        id=user_id, organization_id=organization_id, email=email, name=name,
        password_hash=auth.hash_password(password), is_active=True,
    ))
    return user_id


def create_organization(name: str, admin_email: str | None = None,
                        admin_password: str | None = None) -> dict:
    """A new tenant with its default pipeline, an API key and optionally an admin user."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise ValidationFailed("Invalid organization", {"name": ["must be 1 to 200 characters"]})
    if (admin_email is None) != (admin_password is None):
        raise ValidationFailed("admin email and password go together",
                               {"admin_password": ["required with admin_email"]})
    org_id = uuid7()
    with db.transaction() as conn:
        conn.execute(organizations.insert().values(id=org_id, name=name))
        create_pipeline(conn, org_id, "Sales pipeline", is_default=True)
        api_key = auth.create_api_key(conn, org_id)
        user_id = None
        if admin_email is not None and admin_password is not None:
            user_id = create_user(conn, org_id, admin_email, admin_password, name="Admin")
    result = {"organization_id": str(org_id), "name": name, "api_key": api_key}
    if user_id:
        result["admin_user_id"] = str(user_id)
        result["admin_email"] = admin_email
    return result


def get_organization(organization_id: uuid.UUID) -> dict | None:
    with db.transaction() as conn:
        row = conn.execute(
            sa.select(organizations).where(organizations.c.id == organization_id)
        ).one_or_none()
    return dict(row._mapping) if row else None
