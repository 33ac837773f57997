"""Identity and references by another system's ids, and references looked up by value.

Rows converted from another system carry (external_system, external_id) instead of a
public_id, and point at each other the same way (`<ref>_external_id`) or, from a CSV mapping,
by a name, email or domain (`<ref>_lookup`). Before a batch is resolved, each of these becomes
a public_id with one query per target table:
- a row's own pair: a stored live row with the pair keeps its public_id (so the import updates
  it); else the deterministic public_id minted from the pair (validate.minted_public_id), which
  is also what a later reference to the pair computes — so a reference finds a row of the same
  upload whether it was already written or not (a dry run finds it among the job's row keys);
- a lookup: exactly one stored live row with that value (case-insensitive); none or several is
  a row error, never a guess. A lookup that finds nothing among rows of its own entity is
  deferred like any parent reference (the parent may come in a later batch).
"""
from __future__ import annotations

import uuid
from collections import defaultdict

import sqlalchemy as sa

from shared.bundle import resolve
from shared.bundle.tables import import_row_keys
from shared.bundle.validate import Candidate, IndirectRef, minted_public_id, row_error
from shared.entities import BY_NAME, BY_PLURAL, Entity

# The live-row index each lookup uses (names and emails: the list and search indexes).
LOOKUP_SQL = {"name": "lower(name)", "email": "lower(email)", "domain": "lower(domain)"}
MAX_KEY = 255


def systems_without_stored_rows(conn: sa.Connection, organization_id: uuid.UUID,
                                systems: dict[str, set[str]]) -> dict[str, list[str]]:
    """Of a converted upload's (entity, external system) pairs, those with no live row stored
    before the import: the common first migration. Every row of such a pair that a batch can
    find was written by this very job under the public_id minted from its pair, so its
    batches skip the stored-pair lookups (one index probe per row) — resume-safe, since the
    answer is kept in the job's checkpoint."""
    absent: dict[str, list[str]] = {}
    for plural, names in systems.items():
        for system in sorted(names):
            stored = conn.execute(sa.text(
                f"SELECT EXISTS (SELECT 1 FROM crm.{BY_PLURAL[plural].plural} "
                f"WHERE organization_id = :org AND external_system = :system "
                f"AND external_id IS NOT NULL AND deleted_at IS NULL)"),
                {"org": organization_id, "system": system}).scalar()
            if not stored:
                absent.setdefault(plural, []).append(system)
    return absent


def adopt_stored_identity(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                          rows: list[Candidate], no_stored: dict[str, list[str]]) -> None:
    """Rows without a public_id take the public_id of the live row with their pair."""
    skip = set(no_stored.get(entity.plural, ()))
    by_system: dict[str, list[Candidate]] = defaultdict(list)
    for cand in rows:
        if cand.external_key is not None and cand.external_key[0] not in skip:
            by_system[cand.external_key[0]].append(cand)
    for system, group in by_system.items():
        stored = _stored_by_external_id(conn, entity, organization_id, system,
                                        [c.external_key[1] for c in group])
        for cand in group:
            found = stored.get(cand.external_key[1])
            if found is not None:
                cand.public_id = found


def _stored_by_external_id(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                           system: str, external_ids: list[str]) -> dict[str, str]:
    if not external_ids:
        return {}
    # one index probe per value (LATERAL): with `external_id = ANY(...)` and the statistics
    # of a table that an import is filling, the planner kept only (organization, system) as
    # the index condition and filtered every row of the organization per batch (quadratic)
    return dict(conn.execute(sa.text(
        f"SELECT v.value, t.public_id FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) "
        f"AS v(value) CROSS JOIN LATERAL (SELECT public_id FROM crm.{entity.plural} t "
        f"WHERE t.organization_id = :org AND t.external_system = :system "
        f"AND t.external_id = v.value AND t.deleted_at IS NULL "
        f"AND t.external_id IS NOT NULL AND t.external_system IS NOT NULL) t"),
        {"org": organization_id, "system": system,
         "ids": resolve.json_array(sorted(set(external_ids)))}).all())


def resolve_indirect(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                     job_id: uuid.UUID, dry_run: bool, rows: list[Candidate],
                     errors: list[dict], no_stored: dict[str, list[str]]
                     ) -> tuple[set[int], list[dict]]:
    """Turn indirect references into public_ids (cand.refs); returns the indexes of rows with
    an unresolvable one (reported) and the deferred same-entity lookups."""
    rejected: set[int] = set()
    deferred: list[dict] = []
    groups: dict[tuple[str, str, str | None], list[tuple[Candidate, str]]] = defaultdict(list)
    refs = {r.name: r for r in entity.references}
    for cand in rows:
        for name, indirect in cand.indirect.items():
            target = cand.record_type if refs[name].polymorphic else refs[name].target
            if target is None:
                continue
            groups[(target, indirect.by, indirect.system)].append((cand, name))
    for (target, by, system), group in groups.items():
        target_entity = BY_NAME[target]
        values = [cand.indirect[name].value for cand, name in group]
        if by == "external_id":
            stored = ({} if system in no_stored.get(target_entity.plural, ())
                      else _stored_by_external_id(conn, target_entity, organization_id, system,
                                                  values))
            for cand, name in group:
                value = cand.indirect[name].value
                cand.refs[name] = stored.get(value) or minted_public_id(
                    target_entity, organization_id,
                    {"external_system": system, "external_id": value})
            continue
        matches = _lookup(conn, target_entity, organization_id, by, values)
        in_upload = (_dry_run_keys(conn, target_entity, organization_id, job_id, by, values)
                     if dry_run else set())
        for cand, name in group:
            indirect = cand.indirect[name]
            found = matches.get(indirect.value.lower(), [])
            if len(found) == 1:
                cand.refs[name] = found[0]
                continue
            if not found and indirect.value.lower()[:MAX_KEY] in in_upload:
                continue  # dry run: the row exists in the upload only
            if not found and target == entity.name:
                deferred.append(deferred_lookup(entity, organization_id, job_id, cand,
                                                indirect))
                continue
            rejected.add(cand.index)
            errors.append(row_error(entity, cand.index, cand.public_id, f"{name}_lookup",
                                    lookup_problem(target, indirect, len(found)),
                                    code="ambiguous_reference" if found
                                    else "unresolved_reference"))
    return rejected, deferred


def lookup_problem(target: str, indirect: IndirectRef, count: int) -> str:
    if count:
        return (f"{count} {BY_NAME[target].plural} have {indirect.describe()}: the reference "
                "is ambiguous; give the row's external_id or public_id instead")
    return f"no {target} with {indirect.describe()} in the upload or the organization"


def deferred_lookup(entity: Entity, organization_id: uuid.UUID, job_id: uuid.UUID,
                    cand: Candidate, indirect: IndirectRef) -> dict:
    return {"organization_id": organization_id, "job_id": job_id, "entity": entity.plural,
            "row_index": cand.index, "public_id": cand.public_id,
            "target_public_id": indirect.value, "target_by": indirect.by,
            "origin": cand.origin}


def _lookup(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID, by: str,
            values: list[str]) -> dict[str, list[str]]:
    """lower(value) → public_ids of the live rows with it (at most 2 are needed to know)."""
    column = LOOKUP_SQL[by]
    # one index probe per value, for the reason given in _stored_by_external_id
    rows = conn.execute(sa.text(
        f"SELECT v.key, t.public_id FROM (SELECT DISTINCT lower(x) FROM "
        f"jsonb_array_elements_text(CAST(:ids AS jsonb)) AS x) AS v(key) "
        f"CROSS JOIN LATERAL (SELECT public_id FROM crm.{entity.plural} t "
        f"WHERE t.organization_id = :org AND t.deleted_at IS NULL "
        f"AND {column.replace('(', '(t.')} = v.key LIMIT 2) t"),
        {"org": organization_id, "ids": resolve.json_array(sorted(set(values)))}).all()
    found: dict[str, list[str]] = defaultdict(list)
    for key, public_id in rows:
        if len(found[key]) < 2:
            found[key].append(public_id)
    return found


def lookup_key_entity(entity: Entity, by: str) -> str:
    return f"{entity.plural}:{by}"


def _dry_run_keys(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                  job_id: uuid.UUID, by: str, values: list[str]) -> set[str]:
    wanted = sorted({v.lower()[:MAX_KEY] for v in values})
    return set(conn.execute(sa.text(
        f"SELECT public_id FROM crm.{import_row_keys.name} WHERE organization_id = :org "
        f"AND job_id = :job AND entity = :entity AND public_id = ANY({resolve.TEXT_ARRAY})"),
        {"org": organization_id, "job": job_id, "entity": lookup_key_entity(entity, by),
         "ids": resolve.json_array(wanted)}).scalars())


def keep_dry_run_lookup_keys(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                             job_id: uuid.UUID, rows: list[Candidate]) -> None:
    """A dry run writes nothing, so later lookups would miss the upload's own rows: their
    names, emails and domains are kept as row keys of the job instead."""
    # a row's lookup fields: what later rows may find it by
    for by in entity.lookup_fields:
        keys = sorted({v.strip().lower()[:MAX_KEY] for c in rows
                       if isinstance(v := c.values.get(by), str) and v.strip()})
        if keys:
            conn.execute(sa.text(
                f"INSERT INTO crm.{import_row_keys.name} (job_id, entity, public_id, "
                f"organization_id) SELECT :job, :entity, k, :org FROM "
                f"jsonb_array_elements_text(CAST(:ids AS jsonb)) AS k ON CONFLICT DO NOTHING"),
                {"job": job_id, "entity": lookup_key_entity(entity, by), "org": organization_id,
                 "ids": resolve.json_array(keys)})
