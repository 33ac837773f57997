"""CRM schema: tenants, auth, records, pipelines, change history, jobs.

Revision ID: 0001
Revises:
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Columns every CRM record table carries (docs/architecture.md, "Data model").
RECORD_COLUMNS = """
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    public_id text NOT NULL,
    external_system text,
    external_id text,
    custom_fields jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
"""

RECORD_TABLES = ["accounts", "contacts", "leads", "opportunities", "activities"]
TENANT_TABLES = [
    "users", "api_keys", "opportunity_pipelines", "opportunity_pipeline_stages",
    *RECORD_TABLES, "change_events", "jobs", "job_errors",
]

SCHEMA = f"""
CREATE TABLE crm.organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE crm.users (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    email text NOT NULL,
    name text,
    password_hash text NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX users_email_key ON crm.users (lower(email));
CREATE INDEX users_organization_id_idx ON crm.users (organization_id);

CREATE TABLE crm.api_keys (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    name text NOT NULL DEFAULT 'default',
    prefix text NOT NULL UNIQUE,
    secret_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_organization_id_idx ON crm.api_keys (organization_id);

CREATE TABLE crm.opportunity_pipelines (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    public_id text NOT NULL,
    name text NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, public_id)
);
CREATE UNIQUE INDEX opportunity_pipelines_one_default
    ON crm.opportunity_pipelines (organization_id) WHERE is_default AND deleted_at IS NULL;

CREATE TABLE crm.opportunity_pipeline_stages (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    public_id text NOT NULL,
    name text NOT NULL,
    position integer NOT NULL,
    kind text NOT NULL DEFAULT 'open' CHECK (kind IN ('open', 'won', 'lost')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, pipeline_id, id),
    UNIQUE (organization_id, public_id),
    FOREIGN KEY (organization_id, pipeline_id)
        REFERENCES crm.opportunity_pipelines (organization_id, id)
);
CREATE INDEX opportunity_pipeline_stages_pipeline_idx
    ON crm.opportunity_pipeline_stages (organization_id, pipeline_id, position);

CREATE TABLE crm.accounts (
    {RECORD_COLUMNS},
    name text NOT NULL,
    domain text,
    industry text,
    website text,
    phone text,
    employee_count integer,
    annual_revenue numeric(20, 2),
    description text,
    parent_account_id uuid,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, public_id),
    FOREIGN KEY (organization_id, parent_account_id) REFERENCES crm.accounts (organization_id, id)
);

CREATE TABLE crm.contacts (
    {RECORD_COLUMNS},
    first_name text,
    last_name text,
    email text,
    phone text,
    title text,
    account_id uuid,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, public_id),
    FOREIGN KEY (organization_id, account_id) REFERENCES crm.accounts (organization_id, id)
);
CREATE INDEX contacts_account_idx ON crm.contacts (organization_id, account_id)
    WHERE account_id IS NOT NULL;
CREATE INDEX contacts_email_idx ON crm.contacts (organization_id, lower(email))
    WHERE deleted_at IS NULL;

CREATE TABLE crm.leads (
    {RECORD_COLUMNS},
    first_name text,
    last_name text,
    email text,
    phone text,
    company text,
    title text,
    status text,
    source text,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, public_id)
);
CREATE INDEX leads_email_idx ON crm.leads (organization_id, lower(email)) WHERE deleted_at IS NULL;

CREATE TABLE crm.opportunities (
    {RECORD_COLUMNS},
    name text NOT NULL,
    amount numeric(20, 2),
    currency char(3),
    close_date date,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
    account_id uuid,
    contact_id uuid,
    pipeline_id uuid NOT NULL,
    pipeline_stage_id uuid NOT NULL,
    stage_position integer,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, public_id),
    FOREIGN KEY (organization_id, account_id) REFERENCES crm.accounts (organization_id, id),
    FOREIGN KEY (organization_id, contact_id) REFERENCES crm.contacts (organization_id, id),
    FOREIGN KEY (organization_id, pipeline_id)
        REFERENCES crm.opportunity_pipelines (organization_id, id),
    -- a stage must belong to the opportunity's own pipeline
    FOREIGN KEY (organization_id, pipeline_id, pipeline_stage_id)
        REFERENCES crm.opportunity_pipeline_stages (organization_id, pipeline_id, id)
);
CREATE INDEX opportunities_account_idx ON crm.opportunities (organization_id, account_id)
    WHERE account_id IS NOT NULL;
CREATE INDEX opportunities_contact_idx ON crm.opportunities (organization_id, contact_id)
    WHERE contact_id IS NOT NULL;
CREATE INDEX opportunities_board_idx
    ON crm.opportunities (organization_id, pipeline_stage_id, stage_position, id)
    WHERE deleted_at IS NULL;

CREATE TABLE crm.activities (
    {RECORD_COLUMNS},
    type text NOT NULL DEFAULT 'note'
        CHECK (type IN ('call', 'email', 'meeting', 'note', 'task')),
    subject text,
    body text,
    occurred_at timestamptz,
    due_at timestamptz,
    completed_at timestamptz,
    record_type text CHECK (record_type IN ('account', 'contact', 'lead', 'opportunity')),
    record_id uuid,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, public_id),
    CHECK ((record_type IS NULL) = (record_id IS NULL))
);
CREATE INDEX activities_record_idx ON crm.activities (organization_id, record_type, record_id)
    WHERE record_id IS NOT NULL;

CREATE TABLE crm.jobs (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    kind text NOT NULL CHECK (kind IN ('import', 'export')),
    status text NOT NULL DEFAULT 'queued' CHECK (status IN
        ('queued', 'running', 'succeeded', 'completed_with_errors', 'failed', 'cancelled')),
    params jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    progress jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    checkpoint jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    error jsonb,
    error_count integer NOT NULL DEFAULT 0,
    upload_key text,
    upload_size bigint,
    result_key text,
    result_size bigint,
    idempotency_key text,
    request_hash text,
    attempts integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    expires_at timestamptz,
    UNIQUE (organization_id, id)
);
CREATE INDEX jobs_org_created_idx ON crm.jobs (organization_id, created_at DESC, id DESC);
CREATE INDEX jobs_active_idx ON crm.jobs (status, updated_at) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX jobs_idempotency_key ON crm.jobs (organization_id, kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE crm.job_errors (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    job_id uuid NOT NULL,
    entity text,
    row_index integer,
    public_id text,
    field text,
    code text NOT NULL,
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, job_id) REFERENCES crm.jobs (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX job_errors_job_idx ON crm.job_errors (job_id, id);

CREATE TABLE crm.change_events (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES crm.organizations(id),
    record_type text NOT NULL,
    record_id uuid NOT NULL,
    public_id text,
    event_type text NOT NULL CHECK (event_type IN ('created', 'updated', 'deleted', 'imported')),
    changes jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    actor text,
    job_id uuid,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_events_org_idx ON crm.change_events (organization_id, occurred_at DESC, id DESC);
CREATE INDEX change_events_record_idx
    ON crm.change_events (organization_id, record_id, occurred_at DESC, id DESC);
CREATE INDEX change_events_job_idx ON crm.change_events (job_id) WHERE job_id IS NOT NULL;

CREATE FUNCTION crm.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
"""

PARTIAL_INDEXES = {
    "accounts": "lower(name)",
    "contacts": "lower(coalesce(last_name, '')), lower(coalesce(first_name, ''))",
    "leads": "lower(coalesce(last_name, '')), lower(coalesce(first_name, ''))",
    "opportunities": "lower(name)",
    "activities": "occurred_at",
}


def upgrade() -> None:
    op.execute(SCHEMA)
    for table in RECORD_TABLES:
        op.execute(
            f"CREATE INDEX {table}_live_idx ON crm.{table} (organization_id, {PARTIAL_INDEXES[table]}, id)"
            f" WHERE deleted_at IS NULL"
        )
        op.execute(
            f"CREATE INDEX {table}_external_idx ON crm.{table} "
            f"(organization_id, external_system, external_id) WHERE external_id IS NOT NULL"
        )
        op.execute(f"CREATE INDEX {table}_updated_idx ON crm.{table} (organization_id, updated_at, id)")
    for table in [*RECORD_TABLES, "organizations", "users", "opportunity_pipelines",
                  "opportunity_pipeline_stages", "jobs"]:
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON crm.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at()"
        )
    # Row-level security as a second wall behind the service layer's organization filter:
    # a query that forgot its filter still sees only the organization of its transaction.
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drippulse_app') "
        "THEN CREATE ROLE drippulse_app NOLOGIN; END IF; "
        # two databases migrating at once on one cluster race to create the role
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    op.execute("GRANT USAGE ON SCHEMA crm TO drippulse_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO drippulse_app")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA crm TO drippulse_app")
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT drippulse_app TO %I', current_user); "
        "EXCEPTION WHEN others THEN NULL; END $$"
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE crm.{table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} USING ("
            f"current_setting('app.bypass_rls', true) = 'on' OR "
            f"organization_id = NULLIF(current_setting('app.current_org', true), '')::uuid)"
        )


def downgrade() -> None:
    # the schema stays: Alembic's own version table lives in it; the role stays too, since
    # other databases of the cluster may use it
    for table in reversed(["organizations", *TENANT_TABLES]):
        op.execute(f"DROP TABLE IF EXISTS crm.{table} CASCADE")
    op.execute("DROP FUNCTION IF EXISTS crm.touch_updated_at()")
