"""Alembic environment: the URL comes from shared.migrate, never from alembic.ini."""
import sqlalchemy as sa
from alembic import context

from shared.db import normalize_url

config = context.config
url = normalize_url(config.get_main_option("sqlalchemy.url"))

engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
with engine.connect() as connection:
    connection.execute(sa.text("CREATE SCHEMA IF NOT EXISTS crm"))
    connection.commit()
    context.configure(
        connection=connection,
        version_table_schema="crm",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
