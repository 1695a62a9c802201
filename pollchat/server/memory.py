"""One setting of the C allocator for a server holding thousands of idle connections.

Short-lived large buffers (a login's welcome among 10,000 users is a 60 to 130 KB
``bytes``, rendered, framed for a WebSocket and sent) are freed at once, but glibc's
malloc carves blocks under its *mmap threshold* out of the heap. That threshold starts at
128 KiB and rises, up to 32 MiB, each time a larger mapped block is freed, so after the
first large welcome every later one comes from the heap, and the small long-lived
objects of the connections logging in at the same time settle into the holes it leaves:
the heap cannot shrink, and memory held grew to twice what was in use (measured with
10,000 idle WebSocket connections, docs/performance.md). And a block under the
threshold, or over it, is carved from the top of the heap whenever the top has room,
which glibc keeps (128 KiB of padding, 128 KiB before it trims).

So three settings: a fixed mmap threshold of 64 KiB (which also turns the rise off), a
trim threshold of 64 KiB and no top padding. Then each block of 64 KiB or more gets a
mapping of its own, returned to the system when freed; the price is a ``mmap`` and
``munmap`` per such block (a few microseconds, once per login's welcome) and a few more
``brk`` calls as the heap grows.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter numbers (glibc ``malloc.h``)."""
LARGE_BLOCK = 64 * 1024
"""Bytes from which a block gets its own mapping: above a read (64 KiB is the loop's
read buffer, allocated once) and below any welcome that fragments the heap."""


def fix_mmap_threshold(threshold: int = LARGE_BLOCK) -> bool:
    """Give every block of ``threshold`` bytes or more a mapping of its own (glibc:
    the mmap and trim thresholds set to ``threshold``, no top padding; see the
    module's docstring).

    Returns:
        ``True`` if all three were set; ``False`` where the C library is not glibc (no
        ``mallopt``), which changes nothing else.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = all([mallopt(M_MMAP_THRESHOLD, threshold), mallopt(M_TRIM_THRESHOLD, threshold), mallopt(M_TOP_PAD, 0)])
    if not done:
        log.debug("mallopt refused a setting; the allocator keeps its defaults for it")
    return done
