"""pollchat's tests, in three suites by what they need:

* ``tests/unit/``: pure tests, no sockets (files in temporary directories at most);
* ``tests/loopback/``: a real server or sockets on 127.0.0.1, and the CLI run as a
  subprocess;
* ``tests/tui/``: the terminal UI (its pure parts, snapshots and end-to-end runs).

Shared helpers stay here at the top: the loopback harness (``tests.harness``, also a
pytest plugin loaded by ``conftest.py``), the same API over the chat service and
in-memory peers (``tests.service_harness``: behaviour tests of the chat that need no
socket) and the hypothesis strategies (``tests.strategies``).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository's root (README.md, docs/, pollchat/): tests find files from here, never
from their own location, so moving a test between suites cannot break a path."""
