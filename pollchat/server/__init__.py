"""The server: the selectors event loop, connections, workers, signals and the CLI.

Only this package touches server sockets. Modules:

* :mod:`.timers` -- a heap of deadlines for the loop.
* :mod:`.connection` -- one accepted socket and its buffers.
* :mod:`.loop` -- the single-threaded selectors loop that moves bytes.
* :mod:`.workers` -- the password-hashing pool, answering through the loop's wake-up.
* :mod:`.chat` -- glue: connection input to protocol session to hub to output.
* :mod:`.accounts_file` -- the preconfigured accounts file (TOML).
* :mod:`.app` -- wiring and the server's lifetime.
* :mod:`.cli` -- ``pollchat-server``.
"""
