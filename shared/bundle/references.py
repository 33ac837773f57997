"""A batch's references: filled in set-based before the write, and parents of the same entity
linked once the entity is done (the parent may come in a later or concurrent batch).

References resolve against rows already stored in the organization, which includes every row
written by earlier entities and batches of the same import. Indirect references (external ids,
lookups by value) were already turned into public_ids by shared.bundle.external_refs.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared.bundle import resolve
from shared.bundle.external_refs import LOOKUP_SQL, lookup_key_entity
from shared.bundle.validate import Candidate, row_error
from shared.entities import BY_NAME, ENTITIES, Entity, Reference
from shared.ids import uuid7_texts
from shared.services.jobs import record_errors


def _deferred(entity: Entity, organization_id: uuid.UUID, job_id: uuid.UUID, cand: Candidate,
              target_public_id: str) -> dict:
    return {"organization_id": organization_id, "job_id": job_id, "entity": entity.plural,
            "row_index": cand.index, "public_id": cand.public_id,
            "target_public_id": target_public_id, "target_by": None, "origin": cand.origin}


def _describe(cand: Candidate, ref: Reference) -> str:
    indirect = cand.indirect.get(ref.name)
    if indirect is not None:
        return indirect.describe()
    return f"public_id {cand.refs[ref.name]!r}"


def resolve_batch(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                  job_id: uuid.UUID, dry_run: bool, rows: list[Candidate], errors: list[dict]
                  ) -> tuple[list[Candidate], list[Candidate], list[dict]]:
    """Fill reference columns; returns (good rows, rejected rows, deferred self references)."""
    rejected: dict[int, Candidate] = {}
    deferred: list[dict] = []
    # (row, reference) pairs whose parent is a row of this very batch, not stored yet
    in_batch: list[tuple[Candidate, Reference]] = []
    lookup_job = job_id if dry_run else None
    by_public_id = {c.public_id for c in rows}
    for cand, new_id in zip(rows, uuid7_texts(len(rows)), strict=True):
        cand.values["id"] = new_id  # a new row's id, known before the write (see below)
    for ref in entity.references:
        if ref.polymorphic:
            by_type: dict[str, list[Candidate]] = {}
            for cand in rows:
                if cand.record_type and cand.refs.get(ref.name):
                    by_type.setdefault(cand.record_type, []).append(cand)
            for cand in rows:
                cand.values[ref.column] = None
                cand.values[ref.type_column] = cand.record_type
            groups = list(by_type.items())
        else:
            groups = [(ref.target, [c for c in rows if c.refs.get(ref.name)])]
            for cand in rows:
                cand.values[ref.column] = None
        for target, group in groups:
            found = resolve.lookup_ids(conn, organization_id, target,
                                       (c.refs[ref.name] for c in group), job_id=lookup_job)
            for cand in group:
                target_id = found.get(cand.refs[ref.name])
                if target_id == resolve.IN_BUNDLE:  # dry run: exists, but only in the bundle
                    cand.values[ref.column] = None
                    if ref.polymorphic:
                        cand.values[ref.type_column] = None
                elif target_id is not None:
                    cand.values[ref.column] = target_id
                elif target == entity.name and cand.refs[ref.name] in by_public_id:
                    in_batch.append((cand, ref))
                elif target == entity.name:
                    # may be a row of a later or concurrent batch: applied when the entity is done
                    deferred.append(_deferred(entity, organization_id, job_id, cand,
                                              cand.refs[ref.name]))
                else:
                    rejected[cand.index] = cand
                    errors.append(row_error(
                        entity, cand.index, cand.public_id, ref.public_field,
                        f"no {target} with {_describe(cand, ref)} in the upload "
                        f"or the organization", code="unresolved_reference"))
    good = [c for c in rows if c.index not in rejected]
    _link_in_batch(in_batch, {c.public_id: c for c in good}, organization_id, job_id, deferred)
    for ref in entity.references:
        if ref.acyclic:
            _refuse_cycles(conn, entity, ref, organization_id, good, errors)
    return good, list(rejected.values()), deferred


CYCLE = "would make the {entity} its own ancestor; imported without it"
_ANCESTORS = """
WITH RECURSIVE chain(id, parent) AS (
    SELECT id, {col} FROM {table} WHERE organization_id = :org AND id = ANY(:ids)
    UNION
    SELECT p.id, p.{col} FROM {table} p JOIN chain c ON p.id = c.parent
    WHERE p.organization_id = :org
) SELECT id, parent FROM chain"""


def _refuse_cycles(conn: sa.Connection, entity: Entity, ref: Reference,
                   organization_id: uuid.UUID, rows: list[Candidate], errors: list[dict]) -> None:
    """Unlink (with a row error) a row whose parent chain, as this batch will leave it, comes
    back to the row itself. Stored ancestors are read in one recursive query per batch, and
    only when some row of the batch has a parent, so a batch without parents pays nothing."""
    linked = [c for c in rows if c.values.get(ref.column) is not None]
    if not linked:
        return
    table = f"crm.{entity.plural}"
    # a row being updated keeps its stored id (the upsert never changes ids)
    stored = dict(conn.execute(sa.text(
        f"SELECT public_id, id FROM {table} WHERE organization_id = :org "
        f"AND public_id = ANY(:p)"), {"org": organization_id,
                                      "p": [c.public_id for c in rows]}).all())
    node = {c.public_id: str(stored.get(c.public_id) or c.values["id"]) for c in rows}
    parent_of = {node[c.public_id]: _text(c.values.get(ref.column)) for c in rows}
    edges = {str(i): _text(p) for i, p in conn.execute(
        sa.text(_ANCESTORS.format(col=ref.column, table=table)),
        {"org": organization_id,
         "ids": [uuid.UUID(str(c.values[ref.column])) for c in linked]}).all()}
    for cand in linked:  # in file order: the first row found on a loop loses its link
        me = node[cand.public_id]
        at, seen = parent_of[me], set()
        while at is not None and at != me and at not in seen:
            seen.add(at)
            at = parent_of[at] if at in parent_of else edges.get(at)
        if at == me:
            cand.values[ref.column] = None
            parent_of[me] = None
            errors.append(row_error(entity, cand.index, cand.public_id, ref.public_field,
                                    CYCLE.format(entity=entity.name), code="cycle"))


def _text(value) -> str | None:
    return None if value is None else str(value)


def _link_in_batch(pairs: list[tuple[Candidate, Reference]], good: dict[str, Candidate],
                   organization_id: uuid.UUID, job_id: uuid.UUID, deferred: list[dict]) -> None:
    """Point a row at a parent written by the same statement: the parent is new (it was not
    found stored), so the id minted for it now is the id it gets. This keeps the row as the
    bundle has it; a later UPDATE (the deferred path) would also move its updated_at."""
    for cand, ref in pairs:
        parent = good.get(cand.refs[ref.name])
        if parent is not None:
            cand.values[ref.column] = parent.values["id"]
        else:  # the parent row was rejected: reported once the entity is done, as before
            deferred.append(_deferred(BY_NAME[ref.target], organization_id, job_id, cand,
                                      cand.refs[ref.name]))


def apply_deferred_refs(conn: sa.Connection, organization_id: uuid.UUID, job_id: uuid.UUID,
                        dry_run: bool) -> None:
    """Point rows at parents of the same entity (written by any batch of this job, or stored
    before); report the ones whose parent exists nowhere (the row stays, without a parent)."""
    for entity in ENTITIES:
        for ref in (r for r in entity.references if r.target == entity.name):
            _by_public_id(conn, entity, ref, organization_id, job_id, dry_run)
            for by in entity.lookup_fields:
                _by_lookup(conn, entity, ref, by, organization_id, job_id, dry_run)
            if ref.acyclic and not dry_run:
                _unlink_deferred_cycles(conn, entity, ref, organization_id, job_id)


# rows this job linked late whose parent chain comes back to them (UNION ends the walk on a
# loop that does not include its start)
_DEFERRED_CYCLES = """
WITH RECURSIVE walk(start, at) AS (
    SELECT a.id, a.{col} FROM crm.import_refs r JOIN {table} a
      ON a.organization_id = :org AND a.public_id = r.public_id
    WHERE r.organization_id = :org AND r.job_id = :job AND r.entity = :entity
      AND a.{col} IS NOT NULL
    UNION
    SELECT w.start, p.{col} FROM walk w JOIN {table} p ON p.organization_id = :org AND p.id = w.at
    WHERE w.at <> w.start AND p.{col} IS NOT NULL
)
SELECT a.id, a.public_id, min(r.row_index) AS row_index,
       (array_agg(r.origin ORDER BY r.row_index))[1] AS origin
FROM walk w JOIN {table} a ON a.organization_id = :org AND a.id = w.start
JOIN crm.import_refs r ON r.organization_id = :org AND r.job_id = :job
  AND r.entity = :entity AND r.public_id = a.public_id
WHERE w.at = w.start GROUP BY a.id, a.public_id ORDER BY 3 LIMIT 1"""


def _unlink_deferred_cycles(conn: sa.Connection, entity: Entity, ref: Reference,
                            organization_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """The deferred UPDATE may close a loop no batch could see (parents in later batches):
    unlink one row per loop, the first in the file, until none is left (loops are rare)."""
    table = f"crm.{entity.plural}"
    sql = sa.text(_DEFERRED_CYCLES.format(col=ref.column, table=table))
    params = {"org": organization_id, "job": job_id, "entity": entity.plural}
    while (row := conn.execute(sql, params).first()) is not None:
        conn.execute(sa.text(f"UPDATE {table} SET {ref.column} = NULL "
                             f"WHERE organization_id = :org AND id = :id"),
                     {"org": organization_id, "id": row.id})
        record_errors(conn, organization_id, job_id, [
            {"entity": entity.plural, "index": row.row_index, "public_id": row.public_id,
             "field": ref.public_field, "code": "cycle", "origin": row.origin,
             "message": CYCLE.format(entity=entity.name)}])


def _report(conn: sa.Connection, organization_id: uuid.UUID, job_id: uuid.UUID, entity: Entity,
            field_name: str, rows, describe) -> None:
    record_errors(conn, organization_id, job_id, [
        {"entity": entity.plural, "index": m.row_index, "public_id": m.public_id,
         "field": field_name, "code": "unresolved_reference", "origin": m.origin,
         "message": f"{describe(m)}; imported without it"}
        for m in rows])


def _by_public_id(conn: sa.Connection, entity: Entity, ref: Reference,
                  organization_id: uuid.UUID, job_id: uuid.UUID, dry_run: bool) -> None:
    table = f"crm.{entity.plural}"
    params = {"org": organization_id, "job": job_id, "entity": entity.plural}
    if not dry_run:
        conn.execute(sa.text(
            f"UPDATE {table} AS a SET {ref.column} = p.id "
            f"FROM crm.import_refs r JOIN {table} p "
            f"  ON p.organization_id = r.organization_id "
            f"  AND p.public_id = r.target_public_id "
            f"WHERE r.organization_id = :org AND r.job_id = :job AND r.entity = :entity "
            f"AND r.target_by IS NULL "
            f"AND a.organization_id = :org AND a.public_id = r.public_id "
            f"AND a.{ref.column} IS DISTINCT FROM p.id"), params)
    in_bundle = ("OR EXISTS (SELECT 1 FROM crm.import_row_keys k WHERE k.job_id = :job "
                 "AND k.organization_id = :org AND k.entity = :entity "
                 "AND k.public_id = r.target_public_id)") if dry_run else ""
    missing = conn.execute(sa.text(
        f"SELECT r.row_index, r.public_id, r.target_public_id, r.origin FROM crm.import_refs r "
        f"WHERE r.organization_id = :org AND r.job_id = :job AND r.entity = :entity "
        f"AND r.target_by IS NULL "
        f"AND NOT (EXISTS (SELECT 1 FROM {table} p WHERE p.organization_id = :org "
        f"AND p.public_id = r.target_public_id) {in_bundle}) ORDER BY r.row_index"),
        params).all()
    _report(conn, organization_id, job_id, entity, ref.public_field, missing,
            lambda m: f"no {entity.name} with public_id {m.target_public_id!r} in the upload "
                      f"or the organization")


def _by_lookup(conn: sa.Connection, entity: Entity, ref: Reference, by: str,
               organization_id: uuid.UUID, job_id: uuid.UUID, dry_run: bool) -> None:
    """Parents found by name or domain: linked when exactly one live row has the value."""
    table = f"crm.{entity.plural}"
    column = LOOKUP_SQL[by].replace("(", "(p.")
    params = {"org": organization_id, "job": job_id, "entity": entity.plural, "by": by,
              "keys": lookup_key_entity(entity, by)}
    matches = (f"SELECT r.id AS ref_id, count(p.id) AS n, min(p.id::text)::uuid AS parent "
               f"FROM crm.import_refs r LEFT JOIN {table} p ON p.organization_id = :org "
               f"AND p.deleted_at IS NULL AND {column} = lower(r.target_public_id) "
               f"WHERE r.organization_id = :org AND r.job_id = :job AND r.entity = :entity "
               f"AND r.target_by = :by GROUP BY r.id")
    if not dry_run:
        conn.execute(sa.text(
            f"UPDATE {table} AS a SET {ref.column} = m.parent "
            f"FROM ({matches}) m JOIN crm.import_refs r ON r.id = m.ref_id "
            f"WHERE m.n = 1 AND a.organization_id = :org AND a.public_id = r.public_id "
            f"AND a.{ref.column} IS DISTINCT FROM m.parent"), params)
    in_upload = ("AND NOT EXISTS (SELECT 1 FROM crm.import_row_keys k WHERE k.job_id = :job "
                 "AND k.organization_id = :org AND k.entity = :keys "
                 "AND k.public_id = lower(r.target_public_id))") if dry_run else ""
    failed = conn.execute(sa.text(
        f"SELECT r.row_index, r.public_id, r.target_public_id, r.origin, m.n "
        f"FROM ({matches}) m JOIN crm.import_refs r ON r.id = m.ref_id "
        f"WHERE m.n <> 1 {in_upload} ORDER BY r.row_index"), params).all()
    _report(conn, organization_id, job_id, entity, f"{ref.name}_lookup", failed,
            lambda m: (f"{m.n} {entity.plural} have {by} {m.target_public_id!r}: ambiguous"
                       if m.n else f"no {entity.name} with {by} {m.target_public_id!r} in the "
                       f"upload or the organization"))
