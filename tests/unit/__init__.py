"""Pure tests: no sockets, no server; at most files in a temporary directory."""
