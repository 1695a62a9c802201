"""pollchat: a self-hosted terminal chat server on a single-threaded selectors loop.

The package is layered; imports only point downwards:

* ``pollchat.texts``, ``pollchat.errors`` -- the wording table and the error types.
* ``pollchat.protocol`` -- pure: bytes to lines to client actions, server events to bytes.
* ``pollchat.core`` -- pure: accounts, password hashes, the seat budget, the hub.
* ``pollchat.store`` -- the SQLite account database (the only module that knows SQL).
* ``pollchat.server`` -- the selectors event loop, connections, workers, signals, CLI.
* ``pollchat.client`` -- the line client and its CLI.
"""

__version__ = "0.1.0"
