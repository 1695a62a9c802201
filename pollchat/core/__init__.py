"""Domain logic, pure: accounts, password hashes, the seat budget and the hub.

Nothing here touches a socket, a file, the database or the clock; the hub takes an
account directory (implemented by :mod:`pollchat.store`) and returns deliveries for the
server to carry out.
"""
