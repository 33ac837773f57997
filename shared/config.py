"""Settings: the only place that reads the environment."""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "drippulse-dev-secret-change-me"
MIN_SECRET_BYTES = 32


class ConfigError(RuntimeError):
    """Refusal to start with an unsafe or inconsistent configuration."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    secret_key: str
    env: str
    data_dir: Path
    batch_size: int
    max_upload_bytes: int
    export_ttl_seconds: int
    job_lease_seconds: int
    max_job_attempts: int
    visibility_timeout_seconds: int
    rate_limit_per_minute: int
    worker_concurrency: int
    log_json: bool
    storage_backend: str
    s3_bucket: str | None
    s3_endpoint_url: str | None
    retention_days: int
    max_active_jobs_per_org: int
    celery_queue_prefix: str = ""
    # gunicorn with several processes: prometheus_client sums their counters from this directory
    prometheus_multiproc_dir: str | None = None
    # when set, GET /metrics wants `Authorization: Bearer <token>` (the API port may be public)
    metrics_token: str | None = None
    # reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed
    # (werkzeug's ProxyFix, api/app.py); 0: none, remote_addr is the TCP peer
    trusted_proxies: int = 0
    # where the `drippulse import/export/jobs` client commands connect, and with which key
    cli_url: str | None = None
    cli_token: str | None = None
    # webhooks may target loopback/private addresses (tests, on-premises receivers); off, a
    # URL resolving to one is refused at creation and at each delivery (SSRF)
    webhooks_allow_private: bool = False
    # the first webhook retry waits this long, each next one three times longer
    webhook_retry_base_seconds: int = 5
    # what a gzip upload may inflate to (0: four times DRIPPULSE_MAX_UPLOAD_BYTES)
    max_inflated_bytes: int = 4 * 1024**3
    # an import batch also ends at this many bytes of spooled rows, so its memory is bounded
    batch_max_bytes: int = 32 * 1024**2
    # Celery limits per task: the soft one raises inside the task (the job fails or resumes),
    # the hard one kills the process; both below the visibility timeout
    task_soft_time_limit: int = 1800
    task_time_limit: int = 1860
    # JWTs whose exp is further than this from now are refused
    max_jwt_lifetime_seconds: int = 7 * 24 * 3600
    # import batches one organization keeps queued at once, over all its jobs: another
    # organization's job waits behind at most this many of its batches (fair queueing)
    org_parallel_batches: int = 8
    # Postgres parallel workers one export query may use beside its own backend (0: serial);
    # each is a process of the database's max_parallel_workers pool, taken only while it runs
    export_parallel_workers: int = 1
    # slow clients (api/body_timeouts.py): the request line and headers must arrive within
    # header_timeout_seconds of their first byte; a body may go body_idle_timeout_seconds
    # without a byte, and once it has kept the server waiting body_rate_grace_seconds it must
    # average body_min_bytes_per_second; 0 turns a bound off
    header_timeout_seconds: int = 30
    body_idle_timeout_seconds: int = 30
    body_min_bytes_per_second: int = 1024
    body_rate_grace_seconds: int = 30
    secret_key_set: bool = True
    # tenant connections log in here (a role that is only in drippulse_app); DATABASE_URL
    # keeps system transactions, migrations and maintenance. None: DATABASE_URL for both
    app_database_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env.strip().lower() == "production"

    def derived_key(self, purpose: str) -> bytes:
        """A key of its own for each use of SECRET_KEY (sessions, JWTs, …): a key leaked or
        attacked through one use says nothing about the others."""
        return hmac.new(self.secret_key.encode(), f"drippulse:{purpose}".encode(),
                        hashlib.sha256).digest()

    def secret_key_problem(self) -> str | None:
        """Why SECRET_KEY is unfit for production (None when it is fine)."""
        if not self.secret_key_set:
            return "SECRET_KEY is not set"
        if self.secret_key == DEFAULT_SECRET:
            return "SECRET_KEY is the development default"
        if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            return f"SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes"
        return None

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    def check(self) -> None:
        problem = self.secret_key_problem() if self.production else None
        if problem:
            raise ConfigError(
                f"{problem}; refusing to start with DRIPPULSE_ENV=production. Set SECRET_KEY to "
                f"a random value of at least {MIN_SECRET_BYTES} bytes (for example: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if self.visibility_timeout_seconds <= 2 * self.job_lease_seconds:
            raise ConfigError(
                "DRIPPULSE_VISIBILITY_TIMEOUT must exceed twice DRIPPULSE_JOB_LEASE_SECONDS, "
                "or the broker redelivers tasks that are still running"
            )
        if not 0 < self.task_soft_time_limit < self.task_time_limit \
                < self.visibility_timeout_seconds:
            raise ConfigError(
                "DRIPPULSE_TASK_SOFT_TIME_LIMIT < DRIPPULSE_TASK_TIME_LIMIT < "
                "DRIPPULSE_VISIBILITY_TIMEOUT must hold"
            )


def load(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env.get("DRIPPULSE_DATA_DIR") or Path.cwd() / ".drippulse").resolve()
    # by default a task may run for half the broker's visibility timeout, so a task the limit
    # kills is never also redelivered as if its worker had died
    soft_limit = _int(env, "DRIPPULSE_TASK_SOFT_TIME_LIMIT",
                      _int(env, "DRIPPULSE_VISIBILITY_TIMEOUT", 3600) // 2)
    settings = Settings(
        database_url=env.get("DATABASE_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        secret_key=env.get("SECRET_KEY") or DEFAULT_SECRET,
        env=env.get("DRIPPULSE_ENV", "development"),
        data_dir=data_dir,
        batch_size=_int(env, "DRIPPULSE_BATCH_SIZE", 2000),
        max_upload_bytes=_int(env, "DRIPPULSE_MAX_UPLOAD_BYTES", 1024**3),
        export_ttl_seconds=_int(env, "DRIPPULSE_EXPORT_TTL_SECONDS", 24 * 3600),
        job_lease_seconds=_int(env, "DRIPPULSE_JOB_LEASE_SECONDS", 60),
        max_job_attempts=_int(env, "DRIPPULSE_MAX_JOB_ATTEMPTS", 5),
        visibility_timeout_seconds=_int(env, "DRIPPULSE_VISIBILITY_TIMEOUT", 3600),
        rate_limit_per_minute=_int(env, "DRIPPULSE_RATE_LIMIT_PER_MINUTE", 6000),
        worker_concurrency=_int(env, "DRIPPULSE_WORKER_CONCURRENCY", 2),
        log_json=env.get("DRIPPULSE_LOG_JSON", "") not in ("", "0", "false"),
        storage_backend=env.get("DRIPPULSE_STORAGE", "local"),
        s3_bucket=env.get("DRIPPULSE_S3_BUCKET") or None,
        s3_endpoint_url=env.get("DRIPPULSE_S3_ENDPOINT_URL") or None,
        retention_days=_int(env, "DRIPPULSE_RETENTION_DAYS", 30),
        max_active_jobs_per_org=_int(env, "DRIPPULSE_MAX_ACTIVE_JOBS", 20),
        celery_queue_prefix=env.get("DRIPPULSE_QUEUE_PREFIX", ""),
        prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        metrics_token=env.get("DRIPPULSE_METRICS_TOKEN") or None,
        trusted_proxies=max(0, _int(env, "DRIPPULSE_TRUSTED_PROXIES", 0)),
        cli_url=env.get("DRIPPULSE_URL") or None,
        cli_token=env.get("DRIPPULSE_TOKEN") or None,
        webhooks_allow_private=env.get("DRIPPULSE_WEBHOOKS_ALLOW_PRIVATE", "") not in (
            "", "0", "false"),
        webhook_retry_base_seconds=_int(env, "DRIPPULSE_WEBHOOK_RETRY_BASE_SECONDS", 5),
        max_inflated_bytes=_int(env, "DRIPPULSE_MAX_INFLATED_BYTES", 0)
        or 4 * _int(env, "DRIPPULSE_MAX_UPLOAD_BYTES", 1024**3),
        batch_max_bytes=_int(env, "DRIPPULSE_BATCH_MAX_BYTES", 32 * 1024**2),
        task_soft_time_limit=soft_limit,
        task_time_limit=_int(env, "DRIPPULSE_TASK_TIME_LIMIT", soft_limit + 60),
        max_jwt_lifetime_seconds=_int(env, "DRIPPULSE_MAX_JWT_LIFETIME_SECONDS", 7 * 24 * 3600),
        org_parallel_batches=max(1, _int(env, "DRIPPULSE_ORG_PARALLEL_BATCHES", 8)),
        export_parallel_workers=min(8, max(0, _int(env, "DRIPPULSE_EXPORT_PARALLEL_WORKERS", 1))),
        header_timeout_seconds=max(0, _int(env, "DRIPPULSE_HEADER_TIMEOUT_SECONDS", 30)),
        body_idle_timeout_seconds=max(0, _int(env, "DRIPPULSE_BODY_IDLE_TIMEOUT_SECONDS", 30)),
        body_min_bytes_per_second=max(0, _int(env, "DRIPPULSE_BODY_MIN_BYTES_PER_SECOND", 1024)),
        body_rate_grace_seconds=max(0, _int(env, "DRIPPULSE_BODY_RATE_GRACE_SECONDS", 30)),
        secret_key_set=bool(env.get("SECRET_KEY")),
        app_database_url=env.get("DRIPPULSE_APP_DATABASE_URL") or None,
    )
    return settings


_current: Settings | None = None


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = load()
    return _current


def set_settings(settings: Settings) -> None:
    """Install settings explicitly (embedded services resolved, tests)."""
    global _current
    _current = settings
