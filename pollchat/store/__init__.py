"""Persistence, the only package that knows SQL: one interface per concern
(:mod:`pollchat.store.ports`) with an SQLite engine (:mod:`pollchat.store.database`, the
default) and a PostgreSQL engine (:mod:`pollchat.store.postgres`, optional);
:mod:`pollchat.store.engines` opens the one a ``--database`` value names."""
