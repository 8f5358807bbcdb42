"""``watch``: check server names on a schedule, record every result, detect and notify events.

The modules, from the bottom up: :mod:`.dburl` and :mod:`.database` open the
database (SQLite or PostgreSQL, migrated by Alembic on start), :mod:`.schema`
declares its tables, :mod:`.observe` reduces a check report to what is
compared from one check to the next, :mod:`.events` decides the events (pure),
:mod:`.store` claims names and records results, events and the notification
outbox, :mod:`.webhook` and :mod:`.deliver` send the notifications, and
:mod:`.daemon` runs the schedule. See docs/watch.md.
"""
