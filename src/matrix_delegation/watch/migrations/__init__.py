"""Alembic's migrations of the ``watch`` database, applied on start (:mod:`..database`)."""
