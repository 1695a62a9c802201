"""The terminal UI: pure state, behaviour and renderer (with snapshots in ``snapshots/``),
and end-to-end runs in a pseudo-terminal."""
