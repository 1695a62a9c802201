"""The server: the selectors event loop, connections, workers, signals and the CLI.

Only this package touches server sockets. Modules:

* :mod:`.timers` -- a heap of deadlines for the loop.
* :mod:`.connection` -- one accepted socket and its buffers.
* :mod:`.loop` -- the single-threaded selectors loop that moves bytes.
* :mod:`.workers` -- the password-hashing pool, answering through the loop's wake-up.
* :mod:`.peer` -- what the chat service needs of a client.
* :mod:`.service` -- the chat service: login workflow, protections, chat, over any front end.
* :mod:`.chat` -- the loop adapter: connection events through the codec to the service.
* :mod:`.build` -- the one place the chat's objects are made and wired.
* :mod:`.accounts_file` -- the preconfigured accounts file (TOML).
* :mod:`.app` -- listeners and the server's lifetime.
* :mod:`.cli` -- ``pollchat-server``.
"""
