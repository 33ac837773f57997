"""Engine and transactions. Every tenant transaction names its organization."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.config import get_settings


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


_engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    url = normalize_url(url)
    engine = _engines.get(url)
    if engine is None:
        # connect_timeout: a database host that drops packets must fail probes, not hang them
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                  pool_recycle=1800, connect_args={"connect_timeout": 10})
        sa.event.listen(engine, "connect", _assume_app_role)
        _engines[url] = engine
    return engine


def _assume_app_role(dbapi_connection, _record) -> None:
    """Run as the unprivileged role so row-level security binds even for a superuser URL."""
    with dbapi_connection.cursor() as cur:
        cur.execute("SELECT pg_has_role(current_user, 'drippulse_app', 'MEMBER') "
                    "FROM pg_roles WHERE rolname = 'drippulse_app'")
        row = cur.fetchone()
        if row and row[0]:
            cur.execute("SET ROLE drippulse_app")
    dbapi_connection.commit()


def get_engine() -> Engine:
    """The engine of DATABASE_URL: system transactions, job locks, migrations, maintenance."""
    url = get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not configured (and no embedded database was started)")
    return engine_for(url)


def get_tenant_engine() -> Engine:
    """The engine of tenant work. With DRIPPULSE_APP_DATABASE_URL set it logs in as a role that
    is only in drippulse_app, so even wrong SQL on a tenant connection cannot SET ROLE to
    drippulse_maintenance or a superuser; unset, it is the DATABASE_URL engine."""
    url = get_settings().app_database_url
    return engine_for(url) if url else get_engine()


def dispose_engines(close: bool = False) -> None:
    """Forget pooled connections. After a fork (close=False) the child must not reuse, nor
    close, its parent's sockets; at shutdown (close=True) they are closed properly."""
    for engine in _engines.values():
        engine.dispose(close=close)
    _engines.clear()


AFTER_COMMIT = "drippulse_after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run `callback` once the transaction of `conn` has committed (never if it rolls back):
    how a job id reaches the broker only after the job row is visible to workers."""
    conn.info.setdefault(AFTER_COMMIT, []).append(callback)


@contextmanager
def _committed(engine: Engine, bind: Callable[[Connection], None]) -> Iterator[Connection]:
    with engine.connect() as conn:
        try:
            with conn.begin():
                bind(conn)
                yield conn
        finally:
            # the info dict lives with the pooled connection: never carry callbacks over
            callbacks = conn.info.pop(AFTER_COMMIT, [])
        # reached only when the block committed (an exception skips it)
        for callback in callbacks:
            callback()


# Cross-tenant work runs as drippulse_maintenance (migration 0011), for this transaction only:
# set_config('role', …) is SET LOCAL ROLE, which Postgres allows only when the *session* user is
# a member, so a login role that is only in drippulse_app cannot do it. The role is looked up by
# oid so a database not yet at 0011 does not fail here; there the legacy app.bypass_rls setting
# still opens the old policies (0011 removes it from them: setting it there does nothing).
_SYSTEM = sa.text(
    "SELECT set_config('app.bypass_rls', 'on', true), "
    "(SELECT set_config('role', r.rolname, true) FROM pg_roles r "
    " WHERE r.rolname = 'drippulse_maintenance' AND pg_has_role(session_user, r.oid, 'MEMBER'))"
)


@contextmanager
def transaction() -> Iterator[Connection]:
    """A system transaction across organizations (auth lookups, sweeps, maintenance)."""
    with _committed(get_engine(), lambda conn: conn.execute(_SYSTEM)) as conn:
        yield conn


def bind_tenant(conn: Connection, organization_id: uuid.UUID) -> None:
    """Bind the connection's current transaction to one organization: the row-level security
    policies of the migrations compare organization_id with app.current_org. Transaction-local,
    so a pooled connection never carries one tenant's binding into the next transaction."""
    conn.execute(sa.text("SELECT set_config('app.current_org', :org, true)"),
                 {"org": str(organization_id)})


@contextmanager
def tenant_transaction(organization_id: uuid.UUID) -> Iterator[Connection]:
    """A transaction bound to one organization (row-level security reads app.current_org)."""
    engine = get_tenant_engine()
    with _committed(engine, lambda conn: bind_tenant(conn, organization_id)) as conn:
        yield conn
