"""Several pollchat nodes, one chat, over Redis (docs/scaling.md).

* :mod:`.records`: the bus's records and events as JSON, pure;
* :mod:`.redis`: a Redis connection driven by the event loop (``hiredis`` parses);
* :mod:`.scripts`: the Lua scripts for seats, presence and node liveness;
* :mod:`.node`: :class:`~.node.ClusterNode`, what the chat service calls.

``hiredis`` is an optional dependency (``pip install 'pollchat[cluster]'``): this
package's ``__init__`` imports nothing, so :func:`check_cluster_flags` can say what is
missing in one line, and a single server never loads it.
"""

from __future__ import annotations

from pollchat.errors import ConfigError

INSTALL_HINT = "pip install 'pollchat[cluster]'"


def check_cluster_flags(cluster_url: str | None, database_url: str | None) -> None:
    """Check ``--cluster`` before anything starts: it needs a shared PostgreSQL
    database (``--database postgresql://...``) and the ``hiredis`` package.

    Raises:
        ConfigError: one line saying what to do."""
    if cluster_url is None:
        return
    if database_url is None or not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("--cluster needs --database postgresql://... (every node of a cluster shares one database)")
    try:
        import hiredis  # noqa: F401
    except ImportError:
        raise ConfigError(f"--cluster needs the hiredis package: {INSTALL_HINT}") from None
