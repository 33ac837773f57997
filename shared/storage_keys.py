"""Where a job's files live in storage: one naming scheme, so retention, the worker and the API
agree. Every key starts with the kind of file and the organization, so a tenant's files can be
listed (and removed) by prefix."""
from __future__ import annotations

import uuid


def upload_key(organization_id: uuid.UUID, job_id: uuid.UUID, extension: str) -> str:
    """An import's upload: `bundle` (JSON, maybe gzip) or `zip` (another system's export)."""
    return f"uploads/{organization_id}/{job_id}.{extension}"


def spool_key(organization_id: uuid.UUID, job_id: uuid.UUID, plural: str) -> str:
    """One entity's spooled rows of an import."""
    return f"imports/{organization_id}/{job_id}/{plural}.ndjson"


def export_key(organization_id: uuid.UUID, job_id: uuid.UUID, extension: str) -> str:
    """An export job's file: `json`, `json.gz` or `zip`."""
    return f"exports/{organization_id}/{job_id}.{extension}"
