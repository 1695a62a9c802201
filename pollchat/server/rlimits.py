"""The open-file limit: raised at start, and the server-wide connection cap derived from it.

Every connection is a descriptor. With the common soft limit of 1,024 (or 128 in some
containers) a few hundred idle connections left new clients hanging in accept's EMFILE
back-off. The soft limit may be raised to the hard one without privileges, as
nginx's ``worker_rlimit_nofile`` and Redis do at start.
"""

from __future__ import annotations

import logging
import resource

from pollchat.config import RESERVED_DESCRIPTORS

log = logging.getLogger(__name__)

CEILING = 1 << 20
"""The highest soft limit asked for when the hard limit is unlimited (Linux's default
``fs.nr_open``)."""


def raise_open_file_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (at most :data:`CEILING`);
    return the soft limit in force afterwards. Never raises: on failure the limit stays."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = CEILING if hard == resource.RLIM_INFINITY else min(hard, CEILING)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
            return soft
        log.info("open-file limit raised from %d to %d", soft, target)
        return target
    return soft if soft != resource.RLIM_INFINITY else CEILING


def connection_capacity() -> int:
    """Connections the current open-file limit allows, less
    :data:`~pollchat.config.RESERVED_DESCRIPTORS` for everything else (at least 1)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = CEILING
    return max(1, soft - RESERVED_DESCRIPTORS)
