"""A deterministic synthetic bundle of N rows, written as a stream (constant memory).

Mix: 10% accounts, 40% contacts, 20% opportunities, 10% leads, 20% activities, with realistic field
sizes and references (contacts → accounts, opportunities → account + contact, activities → any record).
Row i of an entity always has the same content for the same seed, so runs are comparable.
"""
from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

import orjson

MIX = (("accounts", 0.10), ("contacts", 0.40), ("opportunities", 0.20), ("leads", 0.10),
       ("activities", 0.20))
FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
         "Radia", "Guido", "Sophie", "Tim", "Katherine", "John"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
        "Allen", "Dijkstra", "Perlman", "van Rossum", "Wilson", "Berners-Lee", "Johnson", "McCarthy"]
INDUSTRIES = ["Software", "Manufacturing", "Retail", "Finance", "Healthcare", "Logistics", "Energy"]
STAGES = ["Unassigned", "Prospect", "Qualification", "Proposal", "Negotiation", "Won", "Lost"]
WORDS = ("follow up call about renewal pricing contract demo onboarding integration budget "
         "timeline decision stakeholder security review procurement").split()


def counts(rows: int) -> dict[str, int]:
    result = {name: int(rows * share) for name, share in MIX}
    result["contacts"] += rows - sum(result.values())
    return result


def public_id(entity: str, i: int) -> str:
    prefix = {"accounts": "acct", "contacts": "cnt", "opportunities": "opp", "leads": "lead",
              "activities": "act"}[entity]
    return f"{prefix}_bench{i:09d}"


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def rows_for(entity: str, n: int, sizes: dict[str, int], seed: int = 7) -> Iterator[dict]:
    rng = random.Random(f"{seed}:{entity}")
    for i in range(n):
        base = {"public_id": public_id(entity, i), "external_system": "bench",
                "external_id": f"{entity}-{i}", "custom_fields": {"tier": rng.choice("ABC")},
                "created_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00"}
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if entity == "accounts":
            base.update(name=f"{last} {rng.choice(INDUSTRIES)} {i}", domain=f"acct{i}.example.com",
                        industry=rng.choice(INDUSTRIES), website=f"https://acct{i}.example.com",
                        phone=f"+1-555-{i % 10000:04d}", employee_count=rng.randint(1, 50000),
                        annual_revenue=f"{rng.randint(10_000, 90_000_000)}.00",
                        description=_sentence(rng, 12))
            if i and i % 10 == 0:
                base["parent_account_public_id"] = public_id("accounts", rng.randrange(i))
        elif entity == "contacts":
            base.update(first_name=first, last_name=last, email=f"{first}.{last}.{i}@example.com"
                        .lower().replace(" ", ""), phone=f"+1-555-{i % 10000:04d}",
                        title=rng.choice(["CTO", "VP Sales", "Engineer", "Buyer", "CFO"]),
                        account_public_id=public_id("accounts", rng.randrange(sizes["accounts"]))
                        if sizes["accounts"] else None)
        elif entity == "opportunities":
            stage = rng.choice(STAGES)
            base.update(name=f"{rng.choice(WORDS).title()} deal {i}",
                        amount=f"{rng.randint(1000, 500000)}.{rng.randint(0, 99):02d}",
                        currency="USD", close_date=f"2026-{1 + i % 12:02d}-15",
                        status={"Won": "won", "Lost": "lost"}.get(stage, "open"),
                        pipeline_stage_name=stage, stage_position=i,
                        account_public_id=public_id("accounts", rng.randrange(sizes["accounts"]))
                        if sizes["accounts"] else None,
                        contact_public_id=public_id("contacts", rng.randrange(sizes["contacts"]))
                        if sizes["contacts"] else None)
        elif entity == "leads":
            base.update(first_name=first, last_name=last, email=f"lead.{i}@example.org",
                        phone=f"+1-555-{i % 10000:04d}", company=f"{last} GmbH",
                        title="Head of Ops", status=rng.choice(["new", "working", "qualified"]),
                        source=rng.choice(["web", "event", "referral"]))
        else:
            record_type = rng.choice(["account", "contact", "opportunity", "lead"])
            plural = {"account": "accounts", "contact": "contacts", "opportunity": "opportunities",
                      "lead": "leads"}[record_type]
            if sizes[plural]:
                base.update(record_type=record_type,
                            record_public_id=public_id(plural, rng.randrange(sizes[plural])))
            base.update(type=rng.choice(["call", "email", "meeting", "note", "task"]),
                        subject=_sentence(rng, 5), body=_sentence(rng, 30),
                        occurred_at=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T09:30:00+00:00")
        yield base


def write_bundle(path: Path, rows: int, seed: int = 7) -> dict[str, int]:
    sizes = counts(rows)
    with open(path, "wb") as out:
        out.write(b'{"version":1,"exported_at":"2026-01-01T00:00:00+00:00"')
        for entity, _ in MIX:
            out.write(b',"' + entity.encode() + b'":[')
            for j, row in enumerate(rows_for(entity, sizes[entity], sizes, seed)):
                if j:
                    out.write(b",")
                out.write(orjson.dumps(row))
            out.write(b"]")
        out.write(b"}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description="write a deterministic synthetic bundle")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    print(write_bundle(args.out, args.rows, args.seed))


if __name__ == "__main__":
    main()
