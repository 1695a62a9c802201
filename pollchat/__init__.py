"""pollchat: a self-hosted terminal chat server on a single-threaded selectors loop.

The package is layered; imports only point downwards:

* ``pollchat.texts``, ``pollchat.errors``, ``pollchat.config`` -- the wording table, the
  error types, the server settings.
* ``pollchat.cliargs``, ``pollchat.fsutil`` -- leaf helpers (command lines, atomic file
  writes); they import nothing from pollchat.
* ``pollchat.protocol`` -- pure: bytes to lines to client actions, server events to bytes.
* ``pollchat.core`` -- pure: accounts, password hashes, the seat budget, the hub.
* ``pollchat.store`` -- the SQLite account database (the only module that knows SQL).
* ``pollchat.server`` -- the selectors event loop, connections, workers, signals, CLI.
* ``pollchat.client`` -- the line client, the terminal UI and their CLI; never imports
  ``core``, ``store`` or ``server``.

tests/unit/test_layers.py checks these rules on every module.
"""

__version__ = "0.1.0"
