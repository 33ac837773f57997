"""An export whose queries run as parallel plans writes exactly the bundle a serial one writes:
every row once, in id order, with its references (docs/performance.md, "Export in parallel").

The database's own thresholds (parallel_setup_cost, the minimum table sizes) keep a test-sized
organization's export serial, so the test lowers them for its database while it runs."""
from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from shared import config, db
from shared.bundle import export_sql
from shared.bundle.export_stream import snapshot, stream_bundle
from shared.entities import ENTITIES
from tests.bundles_export.seed import seed_bulk, seed_small
from tests.conftest import _admin_conninfo

PARALLEL_THRESHOLDS = ("parallel_setup_cost", "min_parallel_table_scan_size",
                       "min_parallel_index_scan_size")


@pytest.fixture
def parallel_friendly_database(settings: config.Settings) -> Iterator[None]:
    url = sa.engine.make_url(settings.database_url)
    name = url.database

    def alter(statement: str) -> None:
        with psycopg.connect(_admin_conninfo(str(url.set(drivername="postgresql"))),
                             autocommit=True) as conn:
            for setting in PARALLEL_THRESHOLDS:
                conn.execute(statement.format(name=name, setting=setting))
        db.dispose_engines(close=True)  # database settings apply to new sessions

    alter('ALTER DATABASE "{name}" SET {setting} = 0')
    try:
        yield
    finally:
        alter('ALTER DATABASE "{name}" RESET {setting}')


def _with_workers(settings: config.Settings, workers: int) -> None:
    config.set_settings(dataclasses.replace(settings, export_parallel_workers=workers))


def _bundle(org_id: uuid.UUID) -> tuple[bytes, dict]:
    """The bundle's bytes after its header (exported_at differs between two exports), parsed."""
    raw = b"".join(stream_bundle(org_id))
    return raw.split(b'\n"accounts":', 1)[1], json.loads(raw)


def _plans(org_id: uuid.UUID) -> dict[str, str]:
    with snapshot(org_id) as conn:
        return {e.plural: "\n".join(conn.execute(sa.text(
            "EXPLAIN (ANALYZE, COSTS OFF) " + export_sql.rows_query(e, org_id, True).as_string(
                None))).scalars()) for e in ENTITIES}


def test_a_parallel_export_writes_the_serial_bundle(settings, org, parallel_friendly_database):
    org_id = uuid.UUID(org["organization_id"])
    seed_small(org["organization_id"])
    seed_bulk(org["organization_id"], accounts=3000, contacts_per_account=2)
    # fresh statistics, as an import leaves them: stale ones (other tests' organizations) make the
    # planner believe the organization has a row or two
    url = sa.engine.make_url(settings.database_url)
    with psycopg.connect(_admin_conninfo(str(url.set(drivername="postgresql"))),
                         autocommit=True) as conn:
        conn.execute("ANALYZE " + ", ".join(f"crm.{e.plural}" for e in ENTITIES))
    try:
        _with_workers(settings, 0)
        serial_plans, (serial_bytes, _) = _plans(org_id), _bundle(org_id)
        _with_workers(settings, 2)
        parallel_plans, (parallel_bytes, parallel) = _plans(org_id), _bundle(org_id)
    finally:
        config.set_settings(settings)

    assert not any("Gather" in plan for plan in serial_plans.values())
    # the large entities really ran in parallel; the JSON is built below the merge, in workers
    for plural in ("accounts", "contacts"):
        assert parallel_plans[plural].startswith("Gather Merge")
        assert "Workers Launched: 2" in parallel_plans[plural]

    assert parallel_bytes == serial_bytes  # the same rows, keys, order and formatting
    assert sum(c["first_name"].startswith("C") for c in parallel["contacts"]) >= 6000
    # id order is creation order: seed_bulk's rows come in the order they were made
    bulk = [r["name"] for r in parallel["accounts"] if r["name"].startswith("Bulk account")]
    assert bulk == [f"Bulk account {i}" for i in range(3000)]
    accounts = {r["public_id"] for r in parallel["accounts"]}
    assert all(c["account_public_id"] in accounts for c in parallel["contacts"]
               if c["account_public_id"] is not None)
