"""The migrations and the SQLAlchemy tables describe the same schema.

The code reads and writes through the tables of shared/entities.py, shared/models.py and
shared/bundle/tables.py, while only the migrations create the schema. When one changes without
the other the mismatch shows up as a failed query in production; here it shows up as a diff.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import shared.bundle.tables  # noqa: F401  (registers the import bookkeeping tables)
import shared.models  # noqa: F401  (registers the non-record tables)
from shared import migrate
from shared.entities import metadata
from tests.conftest import _admin_conninfo, _server_url

SCHEMA = "crm"

# Tables the migrations create that the code reaches only through SQL text, with the reason.
# A table missing here and from the metadata fails the test: the code may have lost track of it.
DATABASE_ONLY_TABLES: dict[str, str] = {}

# information_schema.columns.data_type, and the broad type it stands for.
_DATABASE_TYPES = {
    "uuid": "uuid",
    "text": "text", "character varying": "text", "character": "text",
    "smallint": "integer", "integer": "integer", "bigint": "bigint",
    "numeric": "numeric", "boolean": "boolean", "jsonb": "jsonb", "json": "json",
    "date": "date", "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp", "ARRAY": "array",
}


def _broad_sqlalchemy_type(column: sa.Column) -> str:
    compiled = column.type.compile(dialect=postgresql.dialect()).lower()
    if compiled.endswith("[]"):
        return "array"
    base = compiled.split("(")[0].strip()
    return {"varchar": "text", "char": "text", "smallint": "integer",
            "timestamp with time zone": "timestamptz",
            "timestamp without time zone": "timestamp", "timestamp": "timestamp",
            }.get(base, base)


def _broad_database_type(data_type: str) -> str:
    return _DATABASE_TYPES.get(data_type, data_type)


Columns = dict[str, dict[str, tuple[str, bool]]]  # table -> column -> (broad type, nullable)


def _metadata_columns() -> Columns:
    tables: Columns = {}
    for table in metadata.tables.values():
        assert table.schema == SCHEMA, f"{table.fullname} is outside schema {SCHEMA}"
        tables[table.name] = {c.name: (_broad_sqlalchemy_type(c), bool(c.nullable))
                              for c in table.columns}
    return tables


def _database_columns(url: str) -> Columns:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable "
                "FROM information_schema.columns c JOIN information_schema.tables t "
                "USING (table_schema, table_name) "
                "WHERE c.table_schema = :schema AND t.table_type = 'BASE TABLE' "
                "ORDER BY c.table_name, c.ordinal_position"), {"schema": SCHEMA}).all()
    finally:
        engine.dispose()
    tables: Columns = {}
    for table, column, data_type, is_nullable in rows:
        if table == "alembic_version":
            continue
        tables.setdefault(table, {})[column] = (_broad_database_type(data_type),
                                                is_nullable == "YES")
    return tables


def schema_differences(database: Columns, models: Columns,
                       database_only: dict[str, str]) -> list[str]:
    """One readable line per difference; empty when the two agree."""
    lines = []
    for table in sorted(database.keys() - models.keys() - database_only.keys()):
        lines.append(f"table {table}: in the database, not in the metadata")
    for table in sorted(models.keys() - database.keys()):
        lines.append(f"table {table}: in the metadata, not in the database")
    for table in sorted(database.keys() & models.keys()):
        in_db, in_models = database[table], models[table]
        for column in sorted(in_db.keys() - in_models.keys()):
            lines.append(f"{table}.{column}: in the database, not in the metadata")
        for column in sorted(in_models.keys() - in_db.keys()):
            lines.append(f"{table}.{column}: in the metadata, not in the database")
        for column in sorted(in_db.keys() & in_models.keys()):
            (db_type, db_null), (model_type, model_null) = in_db[column], in_models[column]
            if db_type != model_type:
                lines.append(f"{table}.{column}: type {db_type} in the database, "
                             f"{model_type} in the metadata")
            if db_null != model_null:
                lines.append(f"{table}.{column}: "
                             f"{'NULL' if db_null else 'NOT NULL'} in the database, "
                             f"{'NULL' if model_null else 'NOT NULL'} in the metadata")
    return lines


@pytest.fixture(scope="module")
def migrated_url() -> Iterator[str]:
    """A database of its own, migrated from empty: nothing another test did can hide a gap."""
    server = sa.engine.make_url(_server_url())
    name = f"dp_schema_{secrets.token_hex(4)}"
    admin = _admin_conninfo(str(server.set(drivername="postgresql")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrated_schema_matches_the_sqlalchemy_tables(migrated_url):
    database = _database_columns(migrated_url)
    assert database, f"the migrations created no tables in schema {SCHEMA}"
    differences = schema_differences(database, _metadata_columns(), DATABASE_ONLY_TABLES)
    assert differences == [], "migrations and metadata disagree:\n  " + "\n  ".join(differences)


def test_a_column_missing_from_the_metadata_is_reported():
    database = {"jobs": {"id": ("uuid", False), "source": ("text", True)},
                "sessions": {"id": ("uuid", False)}}
    models = {"jobs": {"id": ("uuid", True)}, "gone": {"id": ("uuid", False)}}
    assert schema_differences(database, models, {}) == [
        "table sessions: in the database, not in the metadata",
        "table gone: in the metadata, not in the database",
        "jobs.source: in the database, not in the metadata",
        "jobs.id: NOT NULL in the database, NULL in the metadata",
    ]
    assert "table sessions: in the database, not in the metadata" not in schema_differences(
        database, models, {"sessions": "read through SQL text only"})
