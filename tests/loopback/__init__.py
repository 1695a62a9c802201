"""Loopback tests: a real server or sockets on 127.0.0.1, and the command-line tools run as
subprocesses."""
