"""Figures for docs/api.md: list pages and the serializer on a seeded organization.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/crud_lists.py [ROWS]

Creates a throwaway database on that server, seeds ROWS contacts (default 20000) with
accounts, and prints rows/s for: walking the list API at limit=500, and `api_row` alone.
"""
from __future__ import annotations

import os
import secrets
import sys
import time

import psycopg
import sqlalchemy as sa

from shared import config, db, migrate
from shared.entities import CONTACT
from shared.serializers import api_row
from shared.services.record_query import record_select


def main(rows: int) -> None:
    server = sa.engine.make_url(db.normalize_url(os.environ["DATABASE_URL"]))
    name = f"dp_bench_{secrets.token_hex(4)}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        config.set_settings(config.load({"DATABASE_URL": url}))
        analyze_url = server.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False)
        run(rows, analyze_url)
    finally:
        db.dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def walk(client, headers: dict, label: str) -> None:
    started, seen, cursor, pages = time.perf_counter(), 0, None, 0
    while True:
        query = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/crm/contacts", headers=headers, query_string=query).json
        seen, cursor, pages = seen + len(body["items"]), body["next"], pages + 1
        if not cursor:
            break
    elapsed = time.perf_counter() - started
    print(f"list API, limit=500, {label}: {seen} contacts in {pages} pages, {elapsed:.2f}s "
          f"= {seen / elapsed:,.0f} rows/s, {1000 * elapsed / pages:.1f} ms/page")


def run(rows: int, analyze_url: str) -> None:
    from api.app import create_app
    from shared.services.organizations import create_organization

    org = create_organization("bench")
    org_id = org["organization_id"]
    with db.transaction() as conn:
        conn.execute(sa.text(
            "INSERT INTO crm.accounts (id, organization_id, public_id, name) "
            "SELECT gen_random_uuid(), :org, 'acct_b' || g, 'Account ' || g "
            "FROM generate_series(1, 1000) g"), {"org": org_id})
        conn.execute(sa.text(
            "INSERT INTO crm.contacts (id, organization_id, public_id, first_name, email, "
            "account_id) SELECT gen_random_uuid(), :org, 'cnt_b' || g, 'Name ' || g, "
            "'p' || g || '@example.com', (SELECT id FROM crm.accounts a WHERE "
            "a.public_id = 'acct_b' || (g % 1000 + 1)) FROM generate_series(1, :n) g"),
            {"org": org_id, "n": rows})
    client = create_app().test_client()
    headers = {"Authorization": f"Bearer {org['api_key']}"}
    walk(client, headers, "statistics not yet gathered")
    # What autovacuum does a minute later (the app role may not ANALYZE; the owner may).
    with psycopg.connect(analyze_url, autocommit=True) as conn:
        conn.execute("ANALYZE crm.contacts")
        conn.execute("ANALYZE crm.accounts")
    walk(client, headers, "after ANALYZE")
    with db.tenant_transaction(org_id) as conn:
        fetched = [r._mapping for r in conn.execute(record_select(CONTACT, org_id))]
    started = time.perf_counter()
    for row in fetched:
        api_row(CONTACT, row)
    elapsed = time.perf_counter() - started
    print(f"api_row alone: {len(fetched) / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
