"""Alembic's environment: run on the connection :mod:`..database` hands over.

Migrations only run programmatically (``alembic.command.upgrade`` with the
connection in ``config.attributes["connection"]``), never from a command line
with a URL of its own.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from matrix_delegation.watch.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE, the SQLite way
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("the watch migrations run only from matrix_delegation.watch.database")
_run(_connection)
