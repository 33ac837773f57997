"""The SQL that turns each stored record into its bundle row (docs/architecture.md,
"Bundle format"), or its CSV row (docs/export.md).

Postgres builds every row's JSON itself (row_to_json), so the export streams text straight
from the server: no Python object per row, no per-value conversion. Keys and columns derive from
shared.entities; nothing here re-lists an entity's fields.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from psycopg import sql

from shared.csv_safety import inert_sql
from shared.entities import BY_NAME, PLACEMENT_IDS, STAGE_NAME, TIMESTAMP_FIELDS, Entity
from shared.serializers import bundle_keys

# CSV with a quote and a delimiter byte that JSON text cannot contain (control characters are
# always escaped inside JSON strings): the server never quotes or escapes a value, unlike the
# text format, which doubles every backslash.
COPY_OPTIONS = "(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"

COMMON_COLUMNS = ("public_id", "external_system", "external_id", "custom_fields",
                  *TIMESTAMP_FIELDS)
IDENTITY_COLUMNS = ("public_id", "external_system", "external_id")


def iso_timestamp(column: sql.Composable) -> sql.Composable:
    """A timestamptz as Python's datetime.isoformat() writes it in UTC (as the API does):
    microseconds always six digits, left out when zero. Postgres' own JSON form trims trailing
    zeros, so the same instant would read differently in the API and in the bundle."""
    utc = sql.SQL("({} AT TIME ZONE 'UTC')").format(column)
    return sql.SQL(
        "CASE WHEN date_trunc('second', {c}) = {c} "
        "THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') "
        "ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END"
    ).format(c=column, utc=utc)


def _value(entity: Entity, name: str) -> sql.Composable:
    """A column of the row itself; decimals leave as strings with their two decimals."""
    column = sql.SQL("r.{}").format(sql.Identifier(name))
    kind = next((f.kind for f in entity.fields if f.name == name), None)
    if kind is not None and kind.name == "decimal":
        return sql.SQL("{}::text").format(column)
    if name in TIMESTAMP_FIELDS or (kind is not None and kind.name == "datetime"):
        return iso_timestamp(column)
    return column


def _visible(alias: str, include_deleted: bool) -> sql.Composable:
    # Without deleted rows, a reference to one would dangle in the bundle: it leaves as null.
    return sql.SQL("") if include_deleted else sql.SQL(" AND {}.deleted_at IS NULL").format(
        sql.Identifier(alias))


def _join(alias: str, table: str, column: sql.Composable, include_deleted: bool,
          extra: sql.Composable = sql.SQL("")) -> sql.Composable:
    return sql.SQL(" LEFT JOIN crm.{table} {alias} ON {alias}.organization_id = r.organization_id"
                   " AND {alias}.id = {column}{extra}{visible}").format(
        table=sql.Identifier(table), alias=sql.Identifier(alias), column=column, extra=extra,
        visible=_visible(alias, include_deleted))


def _expressions_and_joins(entity: Entity, include_deleted: bool
                           ) -> tuple[dict[str, sql.Composable], list[sql.Composable]]:
    """The SQL for every bundle key of the entity, and the joins those need."""
    exprs = {n: _value(entity, n) for n in (*COMMON_COLUMNS, *entity.field_names)}
    joins: list[sql.Composable] = []
    for i, ref in enumerate(entity.references):
        column = sql.SQL("r.{}").format(sql.Identifier(ref.column))
        if ref.polymorphic:
            # One join per record type, each only matching its own type.
            type_column = sql.SQL("r.{}").format(sql.Identifier(ref.type_column))
            branches = []
            for rt in ref.record_types:
                alias = f"ref{i}_{rt}"
                joins.append(_join(alias, BY_NAME[rt].plural, column, include_deleted,
                                   sql.SQL(" AND {} = {}").format(type_column, sql.Literal(rt))))
                branches.append(sql.SQL("{}.public_id").format(sql.Identifier(alias)))
            public = sql.SQL("coalesce({})").format(sql.SQL(", ").join(branches))
            # A record that cannot be named leaves no half reference (type without id).
            exprs[ref.type_column] = sql.SQL(
                "CASE WHEN {} IS NULL THEN NULL ELSE {} END").format(public, type_column)
            exprs[ref.public_field] = public
        else:
            alias = f"ref{i}"
            joins.append(_join(alias, BY_NAME[ref.target].plural, column, include_deleted))
            exprs[ref.public_field] = sql.SQL("{}.public_id").format(sql.Identifier(alias))
    if entity.stage_placement:
        joins.append(_join("stage", "opportunity_pipeline_stages", sql.SQL("r.pipeline_stage_id"),
                           True))
        exprs.update({key: sql.SQL("r.{}").format(sql.Identifier(key)) for key in PLACEMENT_IDS})
        exprs[STAGE_NAME] = sql.SQL("stage.name")
    return exprs, joins


def _where(organization_id: uuid.UUID, include_deleted: bool) -> sql.Composable:
    where = sql.SQL(" WHERE r.organization_id = {}::uuid").format(
        sql.Literal(str(organization_id)))
    if not include_deleted:
        where += sql.SQL(" AND r.deleted_at IS NULL")
    return where


def rows_query(entity: Entity, organization_id: uuid.UUID, include_deleted: bool
               ) -> sql.Composable:
    """SELECT of one JSON text per row, in id order (uuid7: creation order, index-backed).

    row_to_json of a LATERAL subselect writes compact JSON with the keys in select-list order.
    The JSON is built at the level of the scan and the joins, below the sort, so Postgres sorts
    finished texts and, in a parallel plan, builds them in the workers (docs/performance.md,
    "Export in parallel"): over a subselect ordered by id it was built after the merge, by the
    leader alone.
    """
    exprs, joins = _expressions_and_joins(entity, include_deleted)
    # key order is the one bundle_keys() defines for the API's serializer too
    columns = sql.SQL(", ").join(sql.SQL("{} AS {}").format(exprs[k], sql.Identifier(k))
                                 for k in bundle_keys(entity))
    return sql.SQL("SELECT row_to_json(t)::text FROM crm.{table} r{joins}"
                   " CROSS JOIN LATERAL (SELECT {columns}) t{where} ORDER BY r.id").format(
        columns=columns, table=sql.Identifier(entity.plural), joins=sql.SQL("").join(joins),
        where=_where(organization_id, include_deleted))


def copy_statement(entity: Entity, organization_id: uuid.UUID, include_deleted: bool
                   ) -> sql.Composable:
    return sql.SQL("COPY ({}) TO STDOUT WITH " + COPY_OPTIONS).format(
        rows_query(entity, organization_id, include_deleted))


def count_query(entity: Entity, organization_id: uuid.UUID, include_deleted: bool
                ) -> sql.Composable:
    return sql.SQL("SELECT count(*) FROM crm.{} r{}").format(
        sql.Identifier(entity.plural), _where(organization_id, include_deleted))


def csv_columns(entity: Entity) -> tuple[str, ...]:
    """The CSV export's fixed columns: identity first, the bundle row's own keys in bundle order,
    timestamps last (custom_fields becomes one column per key, after these)."""
    middle = [k for k in bundle_keys(entity)
              if k not in (*IDENTITY_COLUMNS, "custom_fields", *TIMESTAMP_FIELDS)]
    return (*IDENTITY_COLUMNS, *middle, *TIMESTAMP_FIELDS)


def custom_keys_query(entity: Entity, organization_id: uuid.UUID, include_deleted: bool
                      ) -> sql.Composable:
    """Each custom_fields key of the exported rows, and whether any of its values is something
    other than a non-empty string (then every cell of that column is JSON text: a CSV cell cannot
    tell an empty string from a missing value, JSON `""` can)."""
    # the keys come from a set-returning function in the select list, not a lateral join: the
    # export transaction turns nested loops off, which made the join 3-5x slower
    return sql.SQL(
        "SELECT e.key, bool_or(jsonb_typeof(e.value) <> 'string' OR e.value = '\"\"'::jsonb) "
        "FROM (SELECT (jsonb_each(r.custom_fields)).* FROM crm.{table} r{where}"
        " AND r.custom_fields <> '{{}}'::jsonb) e GROUP BY e.key"
    ).format(table=sql.Identifier(entity.plural), where=_where(organization_id, include_deleted))


def _formula_free(entity: Entity, name: str) -> bool:
    """Cells whose text Postgres makes from a timestamp, a date or a uuid start with a digit or
    a hex digit, never with a formula character: they skip the check (3 to 6 cells a row)."""
    if name in TIMESTAMP_FIELDS or name in PLACEMENT_IDS:
        return True
    kind = next((f.kind for f in entity.fields if f.name == name), None)
    return kind is not None and kind.name in ("date", "datetime")


def csv_copy_statement(entity: Entity, organization_id: uuid.UUID, include_deleted: bool,
                       custom: Sequence[tuple[str, bool]]) -> sql.Composable:
    """COPY of the entity's CSV rows (no header), every cell formula-safe, in id order.

    `custom` is (key, as_json) per custom column. The cells are computed in an ordered subselect,
    which Postgres never flattens into the outer query, so inert_sql's repeated references read a
    computed column instead of evaluating a join or a to_char three times.
    """
    exprs, joins = _expressions_and_joins(entity, include_deleted)
    columns = csv_columns(entity)
    cells = [sql.SQL("({})::text").format(exprs[name]) for name in columns]
    checked = [not _formula_free(entity, name) for name in columns]
    for key, as_json in custom:
        operator = sql.SQL("->" if as_json else "->>")
        cells.append(sql.SQL("(r.custom_fields {} {})::text").format(operator, sql.Literal(key)))
        checked.append(True)
    names = [sql.SQL("t.{}").format(sql.Identifier(f"c{i}")) for i in range(len(cells))]
    inner = sql.SQL(", ").join(sql.SQL("{} AS c{}").format(cell, sql.SQL(str(i)))
                               for i, cell in enumerate(cells))
    outer = sql.SQL(", ").join(inert_sql(name) if check else name
                               for name, check in zip(names, checked, strict=True))
    return sql.SQL("COPY (SELECT {outer} FROM (SELECT {inner} FROM crm.{table} r{joins}{where} "
                   "ORDER BY r.id) t) TO STDOUT WITH (FORMAT csv)").format(
        outer=outer, inner=inner, table=sql.Identifier(entity.plural),
        joins=sql.SQL("").join(joins), where=_where(organization_id, include_deleted))
