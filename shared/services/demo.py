"""A realistic sample data set: as bundle rows (for files) and stored in an organization (demo).

Rows are produced per entity in import order, lazily, so `--scale 10000` can write a large
bundle file without holding it in memory.
"""
from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from shared import db
from shared.entities import BY_PLURAL, ENTITIES, STAGE_NAME, pipelines, stages
from shared.ids import mint_public_id
from shared.services import records

COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics",
             "Wayne Foods", "Soylent Labs", "Hooli", "Vandelay Imports", "Tyrell Systems")
INDUSTRIES = ("Manufacturing", "Software", "Healthcare", "Logistics", "Food", "Retail")
FIRST = ("Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
         "Edsger", "Radia", "Tim")
LAST = ("Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton",
        "Ritchie", "Allen", "Dijkstra", "Perlman", "Berners-Lee")
TITLES = ("CTO", "VP Sales", "Head of Operations", "Procurement Lead", "CFO", "IT Manager")
DEALS = ("Annual licence", "Pilot", "Expansion", "Support renewal", "Data migration")
STAGE_NAMES = ("Unassigned", "Prospect", "Qualification", "Proposal", "Negotiation",
               "Won", "Lost")

# bundle-only keys: timestamps are the server's, the stage name becomes a stage id
WRITE_SKIP = ("created_at", "updated_at", "deleted_at", STAGE_NAME)

# rows per entity at scale 1: a small organization a person can look through
PER_SCALE = {"accounts": 5, "contacts": 12, "opportunities": 10, "leads": 6, "activities": 15}


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def sample_rows(scale: int = 1, seed: int | None = None) -> Iterator[tuple[str, dict]]:
    """(plural, bundle row) pairs in import order; references point at earlier rows."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.isoformat()
    base = {"external_system": "demo", "custom_fields": {}, "created_at": stamp,
            "updated_at": stamp, "deleted_at": None}
    accounts: list[str] = []
    contacts: list[tuple[str, str]] = []
    parents: dict[str, list[str]] = {"account": [], "contact": [], "opportunity": [],
                                     "lead": []}
    for i in range(PER_SCALE["accounts"] * scale):
        name = COMPANIES[i % len(COMPANIES)] + (f" {i // len(COMPANIES) + 1}"
                                                if i >= len(COMPANIES) else "")
        public_id = mint_public_id("account")
        accounts.append(public_id)
        parents["account"].append(public_id)
        yield "accounts", {**base, "public_id": public_id, "external_id": f"A-{i + 1}",
                           "name": name, "domain": f"{_slug(name)}.example.com",
                           "industry": rnd.choice(INDUSTRIES),
                           "website": f"https://{_slug(name)}.example.com",
                           "phone": f"+1 555 01{i % 100:02d}",
                           "employee_count": rnd.randrange(10, 5000),
                           "annual_revenue": f"{rnd.randrange(1, 900) * 100000}.00",
                           "description": f"{name} — sample account",
                           "parent_account_public_id": None}
    for i in range(PER_SCALE["contacts"] * scale):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        account = accounts[i % len(accounts)]
        public_id = mint_public_id("contact")
        contacts.append((public_id, account))
        parents["contact"].append(public_id)
        yield "contacts", {**base, "public_id": public_id, "external_id": f"C-{i + 1}",
                           "first_name": first, "last_name": last,
                           "email": f"{first.lower()}.{_slug(last)}{i}@example.com",
                           "phone": f"+1 555 02{i % 100:02d}", "title": rnd.choice(TITLES),
                           "account_public_id": account}
    for i in range(PER_SCALE["opportunities"] * scale):
        contact, account = contacts[i % len(contacts)]
        stage = STAGE_NAMES[i % len(STAGE_NAMES)]
        status = {"Won": "won", "Lost": "lost"}.get(stage, "open")
        public_id = mint_public_id("opportunity")
        parents["opportunity"].append(public_id)
        yield "opportunities", {
            **base, "public_id": public_id, "external_id": f"O-{i + 1}",
            "name": f"{rnd.choice(DEALS)} #{i + 1}",
            "amount": str(Decimal(rnd.randrange(500, 250000)) + Decimal("0.50")),
            "currency": "USD", "close_date": (date.today() + timedelta(days=7 * (i % 12)))
            .isoformat(), "status": status, "account_public_id": account,
            "contact_public_id": contact, "pipeline_stage_name": stage,
            "stage_position": i // len(STAGE_NAMES)}
    for i in range(PER_SCALE["leads"] * scale):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        public_id = mint_public_id("lead")
        parents["lead"].append(public_id)
        yield "leads", {**base, "public_id": public_id, "external_id": f"L-{i + 1}",
                        "first_name": first, "last_name": last,
                        "email": f"{first.lower()}{i}@prospect.example.org",
                        "phone": None, "company": f"Prospect {i + 1} Ltd",
                        "title": rnd.choice(TITLES), "status": rnd.choice(("new", "working")),
                        "source": rnd.choice(("web", "event", "referral"))}
    kinds = ("call", "email", "meeting", "note", "task")
    for i in range(PER_SCALE["activities"] * scale):
        record_type = ("account", "contact", "opportunity", "lead")[i % 4]
        pool = parents[record_type]
        kind = kinds[i % len(kinds)]
        when = now - timedelta(days=i % 30, hours=i % 7)
        yield "activities", {
            **base, "public_id": mint_public_id("activity"), "external_id": f"T-{i + 1}",
            "type": kind, "subject": f"{kind.title()} about next steps",
            "body": "Sample activity created by `drippulse demo`.",
            "occurred_at": when.isoformat(),
            "due_at": (when + timedelta(days=3)).isoformat() if kind == "task" else None,
            "completed_at": None, "record_type": record_type,
            "record_public_id": pool[i % len(pool)]}


def load_sample(organization_id: uuid.UUID, scale: int = 1, seed: int | None = None) -> dict:
    """Store the sample through the records service, as the API would: the same validation,
    reference resolution, board positions and `created` change events as any client's rows."""
    counts = {e.plural: 0 for e in ENTITIES}
    with db.tenant_transaction(organization_id) as conn:
        stage_ids = _default_stages(conn, organization_id)
    for plural, row in sample_rows(scale, seed):
        body = {k: v for k, v in row.items() if k not in WRITE_SKIP}
        if BY_PLURAL[plural].stage_placement:
            body["pipeline_stage_id"] = str(stage_ids[row[STAGE_NAME]])
        records.create(BY_PLURAL[plural], organization_id, body, actor="demo")
        counts[plural] += 1
    return counts


def _default_stages(conn: sa.Connection, organization_id: uuid.UUID) -> dict[str, uuid.UUID]:
    pipeline_id = conn.execute(sa.select(pipelines.c.id).where(
        pipelines.c.organization_id == organization_id, pipelines.c.is_default,
        pipelines.c.deleted_at.is_(None))).scalar_one()
    rows = conn.execute(sa.select(stages.c.name, stages.c.id).where(
        stages.c.organization_id == organization_id, stages.c.pipeline_id == pipeline_id))
    return {name: stage_id for name, stage_id in rows}


def write_sample_bundle(out, scale: int = 1, seed: int | None = None) -> dict:
    """Write a version-1 bundle to a text stream row by row; returns rows per entity."""
    import json

    counts: dict[str, int] = {}
    # no organization_id: a sample belongs to whichever organization imports it
    header = {"version": 1, "exported_at": datetime.now(UTC).isoformat()}
    out.write(json.dumps(header)[:-1])
    current = None
    for plural, row in sample_rows(scale, seed):
        if plural != current:
            out.write("]" if current else "")
            out.write(f',\n"{plural}": [\n')
            current = plural
        else:
            out.write(",\n")
        out.write(json.dumps(row))
        counts[plural] = counts.get(plural, 0) + 1
    out.write("]}\n" if current else "}\n")
    return counts
