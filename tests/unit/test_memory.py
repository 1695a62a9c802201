"""glibc's mmap threshold (pollchat.server.memory): a 100 KB buffer, such as a welcome
among 10,000 users, gets a mapping of its own once the threshold is fixed, instead of a
hole in the heap that the connections' small objects fill (the fragmentation measured
with 10,000 idle WebSocket connections). Checked in a child process, whose allocator
this test may change."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

CHILD = """
import ctypes, json, sys
from pollchat.server.memory import fix_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
fixed = fix_mmap_threshold() if sys.argv[1] == "fix" else None
small = [bytes(300) for _ in range(20_000)]  # a heap in use, with room at its top
before = libc.mallinfo2().hblkhd
blocks = []
for i in range(20):  # welcomes, each followed by a connection's small objects
    blocks.append(bytes(100_000 + i))  # under glibc's default threshold of 128 KiB
    blocks.append([bytes(600) for _ in range(50)])
print(json.dumps({"fixed": fixed, "mapped": libc.mallinfo2().hblkhd - before}))
"""


def _child(mode: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and mallinfo2 are glibc's")
def test_a_welcome_sized_block_gets_its_own_mapping_once_the_threshold_is_fixed() -> None:
    assert _child("default")["mapped"] < 20 * 100_000  # some from the heap: holes that fragment it
    fixed = _child("fix")
    assert fixed["fixed"] is True
    assert fixed["mapped"] >= 20 * 100_000  # each its own mapping, returned to the system when freed
