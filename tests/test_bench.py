"""The benchmark's inputs: a deterministic bundle and an anchor COPY that the schema accepts."""
from __future__ import annotations

import hashlib
import uuid

import orjson
import sqlalchemy as sa

from bench import baseline
from bench.generate import counts, write_bundle
from shared import db


def test_bundle_is_deterministic_and_mixed_as_specified(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    sizes = write_bundle(a, 1000)
    write_bundle(b, 1000)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert sizes == {"accounts": 100, "contacts": 400, "opportunities": 200, "leads": 100,
                     "activities": 200}
    bundle = orjson.loads(a.read_bytes())
    assert {k: len(bundle[k]) for k in sizes} == sizes
    assert bundle["contacts"][0]["account_public_id"].startswith("acct_")


def test_anchor_copy_loads_every_row_with_valid_references(database_url, org):
    conninfo = sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    org_id = uuid.UUID(org["organization_id"])
    baseline.copy_in(conninfo, org_id, 500)
    with db.tenant_transaction(org_id) as conn:
        stored = {t: conn.execute(sa.text(f"SELECT count(*) FROM crm.{t}")).scalar()
                  for t in counts(500)}
        events = conn.execute(sa.text("SELECT count(*) FROM crm.change_events")).scalar()
    assert stored == counts(500)
    assert events == 500
    out = baseline.copy_out(conninfo, org_id, 500)
    assert out["bytes"] > 0
