"""Persistence: the SQLite database (the only package that knows SQL)."""
