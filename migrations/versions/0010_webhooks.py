"""Webhooks: one row per subscribed URL, one delivery per (webhook, job event), one attempt row
per HTTP try (what `GET webhooks/{id}/deliveries` lists).

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("webhooks", "webhook_deliveries", "webhook_attempts")

SCHEMA = """
-- The secret is stored encrypted (Fernet, key derived from SECRET_KEY): the worker must compute
-- the HMAC, so a hash would not do, and a database dump alone does not reveal it.
CREATE TABLE crm.webhooks (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    url text NOT NULL,
    events text[] NOT NULL,
    secret_encrypted text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);
CREATE INDEX webhooks_org_idx ON crm.webhooks (organization_id, created_at);

-- Written in the transaction that gives the job its final status, so an event exists exactly
-- when the status committed; the body is frozen then, so every retry sends the same bytes.
CREATE TABLE crm.webhook_deliveries (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    job_id uuid NOT NULL,
    event text NOT NULL,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, webhook_id) REFERENCES crm.webhooks (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, job_id) REFERENCES crm.jobs (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON crm.webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON crm.webhook_deliveries (webhook_id, created_at);

CREATE TABLE crm.webhook_attempts (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    delivery_id uuid NOT NULL,
    attempt integer NOT NULL,
    status_code integer,
    latency_ms integer,
    error text,
    response_excerpt text,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, delivery_id) REFERENCES crm.webhook_deliveries
        (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_webhook_idx ON crm.webhook_attempts (webhook_id, id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON crm.webhooks, crm.webhook_deliveries, "
               "crm.webhook_attempts TO drippulse_app")
    op.execute("GRANT USAGE, SELECT ON crm.webhook_attempts_id_seq TO drippulse_app")
    for table in TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE crm.{table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} USING ("
            f"current_setting('app.bypass_rls', true) = 'on' OR "
            f"organization_id = NULLIF(current_setting('app.current_org', true), '')::uuid)"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE crm.{table}")
