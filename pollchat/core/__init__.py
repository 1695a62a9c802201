"""Domain logic, pure: accounts, password hashes, the seat budget, the roster and the hub.

Nothing here touches a socket, a file, the database or the clock, nor renders an event;
the hub takes an account directory (implemented by :mod:`pollchat.store`) and a record
sink, and returns effects (:mod:`.effects`) for the server to carry out.
"""
